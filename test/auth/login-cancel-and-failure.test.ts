/**
 * A login that ends without a sign-in, against the mock tenant with the real MSAL: cancelled
 * (Ctrl+C, or the control client gone) after the address was shown, and refused by the
 * identity provider. A cancel closes the loopback listener at once and a late redirect redeems
 * nothing; a refusal reads as the catalogue's meaning and fix, and leaves a log line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { PublicClientApplication } from '@azure/msal-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTokenCachePlugin, FileKeyStore, LoginFailedError, SignInCancelledError, type LoginPrompt } from '../../src/auth/index.js';
import { conditionById, fixFor } from '../../src/core/conditions/index.js';
import { createLogger } from '../../src/core/logger.js';
import { completeBrowserSignIn, MOCK_MAILBOX, startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { entraError } from '../mock-tenant/entra-error-body.js';
import { ManualClock } from '../support/manual-clock.js';
import { browserStandIn, delegatedProvider, type ProviderHandle } from './delegated-fixture.js';
import { refusesConnections } from '../support/ports.js';

let tenant: MockTenant;
let dataDir: string;
let logLines: Record<string, unknown>[];
const handles: ProviderHandle[] = [];

beforeAll(async () => {
  tenant = await startMockTenant();
  tenant.identity.configureDeviceCodes({ intervalSeconds: 0.05 });
});

afterAll(async () => {
  await tenant.close();
});

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'login-end-'));
  logLines = [];
});

afterEach(async () => {
  for (const handle of handles.splice(0)) handle.provider.close();
  tenant.identity.clearFailures();
  await rm(dataDir, { recursive: true, force: true });
});

function open(): ProviderHandle {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const handle = delegatedProvider(tenant, dataDir, new ManualClock(), createLogger({ level: 'info', stdout: sink, pretty: false }));
  handles.push(handle);
  return handle;
}

async function cachedUsers(): Promise<string[]> {
  const app = new PublicClientApplication({
    auth: { clientId: tenant.publicClientId },
    cache: { cachePlugin: createTokenCachePlugin({ store: new FileKeyStore(dataDir), dataDir, account: 'sage' }) },
  });
  return (await app.getTokenCache().getAllAccounts()).map((account) => account.username);
}

describe('a cancelled login', () => {
  it('closes the loopback listener: the port refuses, a late redirect redeems nothing, no token is stored, and the cancel is logged', async () => {
    const { provider } = open();
    const controller = new AbortController();
    let shownUrl = '';
    const attempt = provider.login({
      mode: 'browser',
      signal: controller.signal,
      // --no-browser: the address is printed, then the person presses Ctrl+C instead of following it.
      onPrompt: (prompt: LoginPrompt) => {
        if (prompt.kind === 'browser') shownUrl = prompt.url;
        controller.abort();
      },
    });
    await expect(attempt).rejects.toBeInstanceOf(SignInCancelledError);

    const redirectUri = new URL(new URL(shownUrl).searchParams.get('redirect_uri') ?? '');
    expect(await refusesConnections(Number(redirectUri.port))).toBe(true);
    const requestsBefore = tenant.identity.tokenRequests;
    // The person follows the printed address after all: the code reaches a closed port.
    await expect(completeBrowserSignIn(shownUrl, { caPem: tenant.caPem })).rejects.toThrow(/ECONNREFUSED/);
    expect(tenant.identity.tokenRequests).toBe(requestsBefore);
    expect(await cachedUsers()).toEqual([]);
    expect(provider.state().status).toBe('never-signed-in');
    expect(logLines.some((line) => String(line.msg).startsWith('sign-in cancelled') && line.port === Number(redirectUri.port))).toBe(true);
  });

  it('a cancelled device-code login is logged and stores nothing', async () => {
    const { provider } = open();
    const controller = new AbortController();
    const attempt = provider.login({ mode: 'device-code', signal: controller.signal, onPrompt: () => controller.abort() });
    await expect(attempt).rejects.toBeInstanceOf(SignInCancelledError);
    expect(await cachedUsers()).toEqual([]);
    expect(logLines.some((line) => String(line.msg).startsWith('sign-in cancelled'))).toBe(true);
  });
});

describe('the loopback listener', () => {
  it('ignores a callback with another state (400), and the real redirect then signs in', async () => {
    const { provider } = open();
    const forged: number[] = [];
    const result = await provider.login({
      mode: 'browser',
      onPrompt: async (prompt) => {
        if (prompt.kind !== 'browser') throw new Error('expected a browser prompt');
        const redirectUri = new URL(prompt.url).searchParams.get('redirect_uri') ?? '';
        const answer = await fetch(redirectUri.replace('localhost', '127.0.0.1'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ code: 'code.forged', state: 'not-the-state' }).toString(),
        });
        forged.push(answer.status);
        await completeBrowserSignIn(prompt.url, { caPem: tenant.caPem });
      },
    });
    expect(forged).toEqual([400]);
    expect(result.signedInAs).toBe(MOCK_MAILBOX);
  });
});

describe('a refused login', () => {
  it("prints the catalogue's meaning and fix for the AADSTS code, not MSAL's raw text alone, and logs it without any token", async () => {
    const { provider } = open();
    const refusal = entraError('invalid_grant', 'AADSTS65001', "The user or administrator has not consented to use the application with ID 'x'.");
    tenant.identity.failNext({ status: 400, error: String(refusal.error), error_description: String(refusal.error_description) });

    const failure = await provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) }).catch((error: unknown) => error);

    const consent = conditionById('consent-missing');
    expect(consent).toBeDefined();
    expect(failure).toBeInstanceOf(LoginFailedError);
    const message = (failure as Error).message;
    expect(message).toContain(consent?.meaning);
    expect(message).toContain(`Fix: ${fixFor(consent!, { account: 'sage', clientId: tenant.publicClientId, tenantId: 'organizations', method: 'delegated' })}`);
    expect(message).toContain('AADSTS65001');
    expect(message).not.toContain('has not consented');
    expect(message).not.toMatch(/^invalid_grant/);
    const logged = logLines.find((line) => line.msg === message);
    expect(logged).toMatchObject({ level: 50, condition: 'consent-missing', aadsts: 'AADSTS65001', error: 'invalid_grant', account: 'sage' });
    expect(JSON.stringify(logLines)).not.toMatch(/eyJ|code\./);
    expect(await cachedUsers()).toEqual([]);
  });

  it('a declined device code reads as a refusal with the login command as the fix', async () => {
    const { provider } = open();
    const seen: LoginPrompt[] = [];
    const attempt = provider.login({
      mode: 'device-code',
      onPrompt: (prompt) => {
        seen.push(prompt);
        if (prompt.kind === 'device-code') tenant.identity.declineDeviceCode(prompt.userCode);
      },
    });
    const failure = await attempt.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LoginFailedError);
    // The provider answered (authorization_declined, AADSTS70000): a refusal, not "could not be reached".
    expect(failure).toMatchObject({ condition: { id: 'identity-refused' }, error: 'authorization_declined', aadsts: 'AADSTS70000' });
    expect((failure as LoginFailedError).message).toMatch(/the sign-in failed: The identity provider refused .+\nFix: smtp-oauth-relay login --account sage$/);
    expect(logLines.some((line) => line.level === 50 && String(line.msg).includes('the sign-in failed'))).toBe(true);
  });
});
