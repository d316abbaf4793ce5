/**
 * TLS towards the identity provider: certificates are verified whatever the environment says,
 * and a certificate error is named as such (it used to show as MSAL's endpoints_resolution_error).
 * Real MSAL against the mock tenant's identity provider, trusting a CA that did not sign it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, type ClosableTokenProvider } from '../../src/auth/index.js';
import { IdentityTlsError } from '../../src/auth/tls-failure.js';
import { configSchema, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { createTestCertificates } from '../mock-tenant/certs.js';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';

let tenant: MockTenant;
let dir: string;
let config: Config;
let wrongCaFile: string;
const providers: ClosableTokenProvider[] = [];
const savedEnv = process.env.NODE_TLS_REJECT_UNAUTHORIZED;

beforeAll(async () => {
  tenant = await startMockTenant();
  dir = await mkdtemp(join(tmpdir(), 'identity-tls-'));
  config = configSchema.parse(tenant.relayConfig(join(dir, 'data')));
  wrongCaFile = join(dir, 'other-ca.pem');
  await writeFile(wrongCaFile, (await createTestCertificates()).caPem);
});

afterEach(() => {
  for (const provider of providers.splice(0)) provider.close();
  if (savedEnv === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  else process.env.NODE_TLS_REJECT_UNAUTHORIZED = savedEnv;
});

afterAll(async () => {
  await tenant.close();
  await rm(dir, { recursive: true, force: true });
});

function providerTrusting(caFile: string | undefined): ClosableTokenProvider {
  const account = config.accounts[0]!;
  const provider = createTokenProvider(account, { ...config.identity, caFile }, { logger: silentLogger() });
  providers.push(provider);
  return provider;
}

describe('TLS towards the identity provider', () => {
  it('names a certificate its CA did not sign as a certificate error, and sends no token request', async () => {
    const before = tenant.identity.tokenRequests;
    const failure = await providerTrusting(wrongCaFile).getToken().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IdentityTlsError);
    expect((failure as IdentityTlsError).message).toMatch(/TLS certificate error from the identity provider https:\/\/127\.0\.0\.1:\d+: .*\((CERT_SIGNATURE_FAILURE|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/);
    expect((failure as Error).message).not.toContain('endpoints_resolution_error');
    expect(tenant.identity.tokenRequests).toBe(before);
  });

  it('keeps verifying with NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment', async () => {
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const before = tenant.identity.tokenRequests;
    await expect(providerTrusting(wrongCaFile).getToken()).rejects.toBeInstanceOf(IdentityTlsError);
    // Without the mock tenant's CA too: Node's bundled roots do not include it.
    await expect(providerTrusting(undefined).getToken()).rejects.toThrow(/certificate/);
    expect(tenant.identity.tokenRequests).toBe(before);
  });

  it('still gets a token when the configured CA is the right one', async () => {
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    await expect(providerTrusting(tenant.caFile).getToken()).resolves.toMatchObject({ token: expect.any(String) });
  });
});
