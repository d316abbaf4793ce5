/**
 * The delegated token provider with the real MSAL against the mock identity provider over
 * HTTPS: the mock checks PKCE, tracks and rotates refresh tokens, and approves device codes
 * when the test opens its page like a person. Keys are in a FileKeyStore (no keychain here).
 */
import { access, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublicClientApplication } from '@azure/msal-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTokenCachePlugin,
  FileKeyStore,
  listSignInStates,
  readSignInState,
  signInStatePath,
  tokenCachePath,
  type LoginPrompt,
} from '../../src/auth/index.js';
import { predictedRefreshExpiry } from '../../src/core/sign-in-state.js';
import { SignInRequiredError } from '../../src/core/token.js';
import { MOCK_MAILBOX, startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { ManualClock } from '../support/manual-clock.js';
import { browserStandIn, delegatedConfig, delegatedProvider, deviceCodeStandIn, type ProviderHandle } from './delegated-fixture.js';

const OTHER_USER = 'scanner@contoso.example';
const DAY = 86_400_000;

let tenant: MockTenant;
let dataDir: string;
let clock: ManualClock;
const handles: ProviderHandle[] = [];

beforeAll(async () => {
  tenant = await startMockTenant();
  tenant.identity.configureDeviceCodes({ intervalSeconds: 0.05 });
});

afterAll(async () => {
  await tenant.close();
});

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'delegated-'));
  clock = new ManualClock();
});

afterEach(async () => {
  for (const handle of handles.splice(0)) handle.provider.close();
  await tenant.identity.up();
  tenant.identity.signInAs(MOCK_MAILBOX);
  tenant.identity.clearRefreshFailures();
  tenant.identity.revokeRefreshTokens();
  await rm(dataDir, { recursive: true, force: true });
});

function open(): ProviderHandle {
  const handle = delegatedProvider(tenant, dataDir, clock);
  handles.push(handle);
  return handle;
}

async function signedIn(): Promise<ProviderHandle> {
  const handle = open();
  await handle.provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });
  return handle;
}

function activeRefreshToken(): string {
  const active = tenant.identity.refreshTokens(MOCK_MAILBOX).filter((token) => token.state === 'active');
  expect(active).toHaveLength(1);
  return active[0]?.value ?? '';
}

/** The users in the account's sealed MSAL cache, read through a separate MSAL instance. */
async function cachedUsers(): Promise<string[]> {
  const app = new PublicClientApplication({
    auth: { clientId: tenant.publicClientId },
    cache: { cachePlugin: createTokenCachePlugin({ store: new FileKeyStore(dataDir), dataDir, account: 'sage' }) },
  });
  return (await app.getTokenCache().getAllAccounts()).map((account) => account.username);
}

/** Every file under the data folder, as text (sealed files are binary noise, which is the point). */
async function everyFileUnder(dir: string): Promise<string> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(names.filter((entry) => entry.isFile()).map((entry) => readFile(join(entry.parentPath, entry.name), 'latin1')));
  return texts.join('\n');
}

describe('login', () => {
  it('signs in with PKCE through the URL given to onPrompt, and records the sign-in without any token', async () => {
    const { provider } = open();
    expect(provider.state().status).toBe('never-signed-in');
    const urls: string[] = [];
    const result = await provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant, urls) });

    const asked = new URL(urls[0] ?? '');
    expect(asked.searchParams.get('code_challenge_method')).toBe('S256');
    expect(asked.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.searchParams.get('redirect_uri')).toMatch(/^http:\/\/localhost:\d+$/);
    expect(asked.searchParams.get('scope')).toContain('https://outlook.office.com/SMTP.Send');
    expect(result).toMatchObject({
      account: 'sage',
      signedInAs: MOCK_MAILBOX,
      mailboxMatches: true,
      refreshTokenExpiresAt: new Date(predictedRefreshExpiry(clock.now())).toISOString(),
    });

    const onDisk = await readSignInState(dataDir, delegatedConfig(tenant, dataDir).account);
    expect(onDisk).toMatchObject({ status: 'ok', signedInAs: MOCK_MAILBOX, mailboxMatches: true, refreshTokenIssuedAt: new Date(clock.now()).toISOString() });
    expect(onDisk.lastRefreshError).toBeUndefined();
    expect(provider.state()).toEqual(onDisk);

    const { token } = await provider.getToken();
    const stateText = await readFile(signInStatePath(dataDir, 'sage'), 'utf8');
    const everything = await everyFileUnder(dataDir);
    for (const secret of [token, activeRefreshToken()]) {
      expect(stateText).not.toContain(secret);
      expect(everything).not.toContain(secret);
    }
    await access(tokenCachePath(dataDir, 'sage'));
  });

  it('says clearly when the user who signed in is not the mailbox, and still keeps the sign-in', async () => {
    tenant.identity.signInAs(OTHER_USER);
    const { provider } = open();
    const result = await provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });
    expect(result).toMatchObject({ signedInAs: OTHER_USER, mailboxMatches: false });
    expect(result.message).toBe(
      `Signed in as ${OTHER_USER}, but account "sage" sends as mailbox ${MOCK_MAILBOX}: ` +
        `Exchange will refuse with 5.7.60 unless ${OTHER_USER} has Send As or Full Access on ${MOCK_MAILBOX}.`,
    );
    expect(provider.state()).toMatchObject({ status: 'ok', signedInAs: OTHER_USER, mailboxMatches: false });
    await expect(provider.getToken()).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('signs in with a device code that a person approves on the verification page', async () => {
    const { provider } = open();
    const prompts: LoginPrompt[] = [];
    const result = await provider.login({ mode: 'device-code', onPrompt: deviceCodeStandIn(tenant, prompts) });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatchObject({ kind: 'device-code', verificationUri: tenant.identity.deviceLoginUri });
    expect(prompts[0]?.kind === 'device-code' && prompts[0].message).toContain(tenant.identity.deviceLoginUri);
    expect(result).toMatchObject({ signedInAs: MOCK_MAILBOX, mailboxMatches: true });
    expect(provider.state().status).toBe('ok');
  });

  it('keeps one user per account: a second login replaces the first in the cache', async () => {
    const { provider } = await signedIn();
    expect(await cachedUsers()).toEqual([MOCK_MAILBOX]);
    tenant.identity.signInAs(OTHER_USER);
    await provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });
    expect(await cachedUsers()).toEqual([OTHER_USER]);
    // A new instance reads the sealed cache: only the second user is in it.
    const reopened = open().provider;
    expect(reopened.state().signedInAs).toBe(OTHER_USER);
    const requests = tenant.identity.tokenRequests;
    await reopened.getToken();
    expect(tenant.identity.tokenRequests).toBe(requests);
  });

  it('a cancelled device-code login changes nothing', async () => {
    const { provider } = open();
    const controller = new AbortController();
    const attempt = provider.login({ mode: 'device-code', signal: controller.signal, onPrompt: () => controller.abort() });
    await expect(attempt).rejects.toThrow();
    expect(provider.state().status).toBe('never-signed-in');
  });
});

describe('getToken', () => {
  it('refuses locally before anyone signed in, without asking the identity provider', async () => {
    const { provider, signInRequired } = open();
    const requests = tenant.identity.tokenRequests;
    const failure = await provider.getToken().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SignInRequiredError);
    expect((failure as Error).message).toContain('smtp-oauth-relay login --account sage');
    expect(tenant.identity.tokenRequests).toBe(requests);
    expect(signInRequired).toHaveLength(0);
  });

  it('uses the cached token silently, and a new instance (a restarted daemon) reads it from the sealed cache', async () => {
    const { provider } = await signedIn();
    const requests = tenant.identity.tokenRequests;
    const first = await provider.getToken();
    const second = await provider.getToken();
    expect(second.token).toBe(first.token);
    expect(tenant.identity.tokenRequests).toBe(requests);

    const restarted = open().provider;
    expect(restarted.state()).toMatchObject({ status: 'ok', signedInAs: MOCK_MAILBOX });
    const afterRestart = await restarted.getToken();
    expect(afterRestart.token).toBe(first.token);
    expect(tenant.identity.tokenRequests).toBe(requests);
  });

  it('lets concurrent callers share one request', async () => {
    const { provider } = await signedIn();
    const redemptions = tenant.identity.refreshRedemptions;
    const tokens = await Promise.all(Array.from({ length: 5 }, () => provider.getToken({ forceRefresh: true })));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 1);
  });

  it('forceRefresh redeems and rotates the refresh token, and moves the recorded 90-day window', async () => {
    const { provider } = await signedIn();
    const loginAt = clock.now();
    const before = activeRefreshToken();
    expect(provider.state().refreshTokenIssuedAt).toBe(new Date(loginAt).toISOString());

    await clock.advance(3 * DAY);
    const redemptions = tenant.identity.refreshRedemptions;
    await provider.getToken({ forceRefresh: true });
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 1);
    const after = activeRefreshToken();
    expect(after).not.toBe(before);
    expect(tenant.identity.refreshTokens().find((token) => token.value === before)?.state).toBe('rotated');

    const now = clock.now();
    const state = await readSignInState(dataDir, delegatedConfig(tenant, dataDir).account);
    expect(state.refreshTokenIssuedAt).toBe(new Date(now).toISOString());
    expect(state.refreshTokenExpiresAt).toBe(new Date(now + 90 * DAY).toISOString());
    expect(state.lastRefreshAt).toBe(new Date(now).toISOString());

    // A silent call answered from the cache does not move the window.
    await clock.advance(DAY);
    await provider.getToken();
    expect(provider.state().refreshTokenIssuedAt).toBe(new Date(now).toISOString());
  });

  it('AADSTS700082 puts the account in sign-in-required once, keeps the tokens, refuses locally after, and a new login cures it', async () => {
    const { provider, signInRequired, tokenRequests } = await signedIn();
    const cacheBefore = await readFile(tokenCachePath(dataDir, 'sage'));
    tenant.identity.failRefresh({
      error: 'invalid_grant',
      error_description: 'AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2026-08-01T00:00:00Z and was inactive for 90.00:00:00.',
    });
    const failure = await provider.getToken({ forceRefresh: true }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SignInRequiredError);
    expect((failure as SignInRequiredError).aadstsCode).toBe('AADSTS700082');

    const state = await readSignInState(dataDir, delegatedConfig(tenant, dataDir).account);
    expect(state.status).toBe('sign-in-required');
    expect(state.lastRefreshError).toMatchObject({ error: 'invalid_grant', aadsts: 'AADSTS700082', at: new Date(clock.now()).toISOString() });
    expect(state.lastRefreshError?.message).toContain('90 days');
    expect(signInRequired).toEqual([{ account: 'sage', failure: state.lastRefreshError }]);
    // Never deleted because a refresh failed.
    expect(await readFile(tokenCachePath(dataDir, 'sage'))).toEqual(cacheBefore);

    const requests = tenant.identity.tokenRequests;
    for (const forceRefresh of [false, true]) {
      const again = await provider.getToken({ forceRefresh }).catch((error: unknown) => error);
      expect(again).toBeInstanceOf(SignInRequiredError);
    }
    expect(tenant.identity.tokenRequests).toBe(requests);
    expect(signInRequired).toHaveLength(1);
    // One failure reported, by its Entra code; the local refusals asked nobody.
    expect(tokenRequests).toEqual(['AADSTS700082']);

    await provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });
    expect(provider.state()).toMatchObject({ status: 'ok' });
    expect(provider.state().lastRefreshError).toBeUndefined();
    await expect(provider.getToken({ forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('a revoked grant (AADSTS50173) is sign-in-required too', async () => {
    const { provider } = await signedIn();
    tenant.identity.revokeRefreshTokens(MOCK_MAILBOX);
    const failure = await provider.getToken({ forceRefresh: true }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SignInRequiredError);
    expect(provider.state()).toMatchObject({ status: 'sign-in-required', lastRefreshError: { aadsts: 'AADSTS50173' } });
  });

  it('a network error is an ordinary error: status stays ok, tokens kept, works again once the provider is back', async () => {
    const { provider, signInRequired, tokenRequests } = await signedIn();
    const token = activeRefreshToken();
    await tenant.identity.down();
    const failure = await provider.getToken({ forceRefresh: true }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).not.toBeInstanceOf(SignInRequiredError);
    expect(provider.state()).toMatchObject({ status: 'ok', lastRefreshError: { error: 'network' } });
    expect(signInRequired).toHaveLength(0);
    await access(tokenCachePath(dataDir, 'sage'));

    await tenant.identity.up();
    await expect(provider.getToken({ forceRefresh: true })).resolves.toMatchObject({ token: expect.any(String) });
    expect(tenant.identity.refreshTokens().find((t) => t.value === token)?.state).toBe('rotated');
    expect(provider.state().status).toBe('ok');
    expect(provider.state().lastRefreshError).toBeUndefined();
    // Reported for the metrics: the failed request, then the redemption that worked.
    expect(tokenRequests).toEqual(['network', 'ok']);
  });

  it('an undecryptable token cache is kept aside and reported as sign-in-required', async () => {
    await signedIn();
    await writeFile(tokenCachePath(dataDir, 'sage'), 'garbage that no key opens');
    const { provider, signInRequired } = open();
    const failure = await provider.getToken().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SignInRequiredError);
    expect((failure as Error).message).toContain('could not be decrypted');
    expect(provider.state()).toMatchObject({ status: 'sign-in-required', lastRefreshError: { error: 'token_cache_corrupt' } });
    expect(signInRequired).toHaveLength(1);
    expect((await readdir(join(dataDir, 'tokens'))).some((name) => name !== 'sage.msal.sealed')).toBe(true);
  });

  it('a sign-in made by another process (the CLI while the daemon ran) is picked up from the files', async () => {
    const daemon = open().provider;
    await expect(daemon.getToken()).rejects.toBeInstanceOf(SignInRequiredError);
    await open().provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });
    await expect(daemon.getToken()).resolves.toMatchObject({ token: expect.any(String) });
    expect(daemon.state()).toMatchObject({ status: 'ok', signedInAs: MOCK_MAILBOX });
  });
});

describe('logout and the state files', () => {
  it('logout removes the sign-in from the cache and records never-signed-in', async () => {
    const { provider } = await signedIn();
    await provider.logout();
    expect(provider.state()).toEqual({ version: 1, account: 'sage', method: 'delegated', status: 'never-signed-in' });
    const reopened = open().provider;
    expect(reopened.state().status).toBe('never-signed-in');
    expect(await cachedUsers()).toEqual([]);
    await expect(reopened.getToken()).rejects.toBeInstanceOf(SignInRequiredError);
  });

  it('lists every account, with defaults for those that never recorded anything', async () => {
    await signedIn();
    const states = await listSignInStates(dataDir, [
      { name: 'sage', auth: { method: 'delegated' } },
      { name: 'printer', auth: { method: 'client-credentials' } },
      { name: 'scanner', auth: { method: 'delegated' } },
    ]);
    expect(states.map((state) => [state.account, state.status])).toEqual([
      ['sage', 'ok'],
      ['printer', 'ok'],
      ['scanner', 'never-signed-in'],
    ]);
  });
});
