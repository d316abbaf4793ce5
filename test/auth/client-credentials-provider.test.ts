/**
 * The app-only token provider with the real MSAL against the mock tenant's identity provider
 * over HTTPS (trusting the test CA through the provider's own network client).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsTokenProvider, ClientSecretNotStoredError, createTokenProvider, MissingClientSecretError, REFRESH_BEFORE_EXPIRY_MS, type ClosableTokenProvider, type TokenRequestOutcome } from '../../src/auth/index.js';
import { configSchema, type AccountConfig, type Config } from '../../src/core/config.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { SignInRequiredError } from '../../src/core/token.js';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { createTokenVerifier } from '../mock-tenant/token-verifier.js';
import { ManualClock } from '../support/manual-clock.js';

let tenant: MockTenant;
let dataDir: string;
let config: Config;
const providers: ClosableTokenProvider[] = [];

beforeAll(async () => {
  tenant = await startMockTenant();
  dataDir = await mkdtemp(join(tmpdir(), 'auth-test-'));
  config = configSchema.parse(tenant.relayConfig(dataDir));
});

afterEach(async () => {
  for (const provider of providers.splice(0)) provider.close();
  tenant.identity.clearFailures();
  await tenant.identity.up();
});

afterAll(async () => {
  await tenant.close();
  await rm(dataDir, { recursive: true, force: true });
});

function account(auth: Partial<Extract<AccountConfig['auth'], { method: 'client-credentials' }>> = {}): AccountConfig {
  const base = config.accounts[0];
  if (base === undefined || base.auth.method !== 'client-credentials') throw new Error('no app-only account');
  return { ...base, auth: { ...base.auth, ...auth } };
}

function provider(options: { account?: AccountConfig; clock?: ManualClock; identity?: Config['identity']; env?: NodeJS.ProcessEnv } = {}) {
  const created = createTokenProvider(options.account ?? account(), options.identity ?? config.identity, {
    logger: silentLogger(),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  providers.push(created);
  return created;
}

describe('client-credentials token provider', () => {
  it('gets an app-only token for Exchange that verifies against the published keys', async () => {
    const { token, expiresAt } = await provider().getToken();
    const verify = createTokenVerifier({ jwksUri: tenant.identity.jwksUri, issuer: tenant.identity.issuerUrl, caPem: tenant.caPem });
    const claims = await verify(token);
    expect(claims).toMatchObject({
      aud: 'https://outlook.office365.com',
      roles: ['SMTP.SendAsApp'],
      tid: tenant.tenantId,
      appid: tenant.clientId,
    });
    expect(expiresAt).toBeGreaterThan(Date.now() + 50 * 60 * 1000);
  });

  it('reuses the token: 20 calls make 1 token request', async () => {
    const tokens = provider();
    const before = tenant.identity.tokenRequests;
    const first = await tokens.getToken();
    for (let i = 0; i < 19; i += 1) expect((await tokens.getToken()).token).toBe(first.token);
    expect(tenant.identity.tokenRequests - before).toBe(1);
  });

  it('lets 10 concurrent callers share one request', async () => {
    const tokens = provider();
    const before = tenant.identity.tokenRequests;
    const results = await Promise.all(Array.from({ length: 10 }, () => tokens.getToken()));
    expect(new Set(results.map((r) => r.token)).size).toBe(1);
    expect(tenant.identity.tokenRequests - before).toBe(1);
  });

  it('fetches a new token 5 minutes before expiry, by the injected clock', async () => {
    const clock = new ManualClock(Date.now());
    const tokens = provider({ clock });
    const before = tenant.identity.tokenRequests;
    const first = await tokens.getToken();
    const untilRefresh = first.expiresAt - REFRESH_BEFORE_EXPIRY_MS - clock.now();

    await clock.advance(untilRefresh - 1_000);
    await tokens.getToken();
    expect(tenant.identity.tokenRequests - before).toBe(1);

    await clock.advance(2_000);
    const second = await tokens.getToken();
    expect(tenant.identity.tokenRequests - before).toBe(2);
    expect(second.expiresAt).toBeGreaterThan(first.expiresAt);
  });

  it('skips its cache when asked to (forceRefresh, e.g. after a 535)', async () => {
    const tokens = provider();
    const before = tenant.identity.tokenRequests;
    await tokens.getToken();
    await tokens.getToken({ forceRefresh: true });
    expect(tenant.identity.tokenRequests - before).toBe(2);
  });

  it('turns a wrong client secret into SignInRequiredError AADSTS7000215', async () => {
    const error = await provider({ account: account({ clientSecret: 'not-the-secret' }) }).getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignInRequiredError);
    expect((error as SignInRequiredError).aadstsCode).toBe('AADSTS7000215');
    expect((error as Error).message).not.toContain('not-the-secret');
  });

  it('checks the credential at start without asking Entra: a missing stored secret fails it, a wrong one shows at the first request', async () => {
    const before = tenant.identity.tokenRequests;
    const appOnly = (created: ClosableTokenProvider): ClientCredentialsTokenProvider => {
      providers.push(created);
      if (!(created instanceof ClientCredentialsTokenProvider)) throw new Error('not an app-only provider');
      return created;
    };
    const sealed = account({ clientSecret: undefined });
    const unsealed = appOnly(createTokenProvider(sealed, config.identity, { logger: silentLogger(), clientSecretSource: () => Promise.reject(new ClientSecretNotStoredError(sealed.name)) }));
    await expect(unsealed.checkCredential()).rejects.toBeInstanceOf(ClientSecretNotStoredError);

    const wrong = appOnly(createTokenProvider(account({ clientSecret: undefined }), config.identity, { logger: silentLogger(), clientSecretSource: async () => 'not-the-secret' }));
    await expect(wrong.checkCredential()).resolves.toBeUndefined();
    expect(tenant.identity.tokenRequests).toBe(before);
    await expect(wrong.getToken()).rejects.toMatchObject({ aadstsCode: 'AADSTS7000215' });
  });

  it('turns an expired secret (AADSTS7000222) into SignInRequiredError', async () => {
    tenant.identity.failNext({
      status: 401,
      error: 'invalid_client',
      error_description: "AADSTS7000222: The provided client secret keys for app '11111111-1111-4111-8111-111111111111' are expired.",
    });
    const error = await provider().getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignInRequiredError);
    expect((error as SignInRequiredError).aadstsCode).toBe('AADSTS7000222');
  });

  it('turns an unknown tenant (AADSTS90002) into SignInRequiredError', async () => {
    const error = await provider({ account: account({ tenantId: '99999999-9999-4999-8999-999999999999' }) })
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignInRequiredError);
    expect((error as SignInRequiredError).aadstsCode).toBe('AADSTS90002');
  });

  it('keeps a network error an ordinary error (the caller retries), and recovers', async () => {
    const tokens = provider();
    await tokens.getToken();
    await tenant.identity.down();
    const error = await tokens.getToken({ forceRefresh: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(SignInRequiredError);
    await tenant.identity.up();
    await expect(tokens.getToken({ forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('keeps a server error (HTTP 500) an ordinary error', async () => {
    tenant.identity.failNext({ status: 500, error: 'temporarily_unavailable', error_description: 'AADSTS50196: The server is busy.' }, Infinity);
    const before = tenant.identity.tokenRequests;
    const error = await provider().getToken().catch((e: unknown) => e);
    expect(tenant.identity.tokenRequests).toBeGreaterThan(before);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(SignInRequiredError);
  });

  it('reads the secret from the variable named by clientSecretEnv, and names a missing one', async () => {
    const viaEnv = account({ clientSecret: undefined, clientSecretEnv: 'RELAY_TEST_SECRET' });
    await expect(provider({ account: viaEnv, env: { RELAY_TEST_SECRET: tenant.clientSecret } }).getToken()).resolves.toMatchObject({
      token: expect.any(String),
    });
    expect(() => provider({ account: viaEnv, env: {} })).toThrow(MissingClientSecretError);
    expect(() => provider({ account: viaEnv, env: {} })).toThrow(/RELAY_TEST_SECRET/);
  });

  it('reports each request to the identity provider (metrics), not the tokens it reuses', async () => {
    const outcomes: string[] = [];
    const onTokenRequest = (name: string, outcome: TokenRequestOutcome): void => {
      outcomes.push(outcome.ok ? `${name} ok` : `${name} ${outcome.error}`);
    };
    const name = account().name;
    const good = createTokenProvider(account(), config.identity, { logger: silentLogger(), onTokenRequest });
    const bad = createTokenProvider(account({ clientSecret: 'wrong-secret-value' }), config.identity, { logger: silentLogger(), onTokenRequest });
    providers.push(good, bad);
    await good.getToken();
    await good.getToken();
    await expect(bad.getToken()).rejects.toBeInstanceOf(SignInRequiredError);
    expect(outcomes).toEqual([`${name} ok`, `${name} AADSTS7000215`]);
  });

  it('never writes the token or the secret to the log', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger({ level: 'trace', stdout: sink, pretty: false });
    const good = createTokenProvider(account(), config.identity, { logger });
    const bad = createTokenProvider(account({ clientSecret: 'wrong-secret-value' }), config.identity, { logger });
    providers.push(good, bad);
    const { token } = await good.getToken();
    await bad.getToken().catch(() => undefined);
    const log = lines.join('');
    expect(log).toContain('app-only token acquired');
    expect(log).toContain('AADSTS7000215');
    expect(log).not.toContain(token);
    expect(log).not.toContain(tenant.clientSecret);
    expect(log).not.toContain('wrong-secret-value');
  });
});
