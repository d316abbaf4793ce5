/**
 * The mock identity provider's delegated flows, driven by the real MSAL PublicClientApplication
 * over HTTPS, and by hand where a test must send what MSAL never would (a wrong verifier, a
 * used code). What is asserted is what the provider itself checks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { AuthError, PublicClientApplication, type AccountInfo } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpsNetworkClient } from '../../src/auth/https-network-client.js';
import { ManualClock } from '../support/manual-clock.js';
import {
  completeBrowserSignIn,
  MOCK_DELEGATED_SCOPES,
  MOCK_MAILBOX,
  openDeviceLoginPage,
  startMockTenant,
  type MockTenant,
} from './index.js';
import { SmtpWire } from '../support/smtp-wire.js';

const SCOPES = [...MOCK_DELEGATED_SCOPES];
const OTHER_USER = 'scanner@contoso.example';

let tenant: MockTenant;
const networks: HttpsNetworkClient[] = [];

beforeAll(async () => {
  tenant = await startMockTenant();
});

afterEach(() => {
  tenant.identity.signInAs(MOCK_MAILBOX);
  tenant.identity.clearRefreshFailures();
  // Each test starts with no live refresh token, so it can name "the" active one.
  tenant.identity.revokeRefreshTokens();
  for (const network of networks.splice(0)) network.destroy();
});

afterAll(async () => {
  await tenant.close();
});

/** A public client with its own in-memory token cache, trusting only the test CA extra. */
function publicClient(target: MockTenant = tenant, tenantSegment = target.tenantId): PublicClientApplication {
  const network = new HttpsNetworkClient({ extraCaPem: target.caPem });
  networks.push(network);
  return new PublicClientApplication({
    auth: {
      clientId: target.publicClientId,
      authority: `${target.authorityHost}/${tenantSegment}`,
      knownAuthorities: [new URL(target.authorityHost).host],
    },
    system: { networkClient: network },
  });
}

/** Sign-in through acquireTokenInteractive, the browser being an HTTP client. */
async function interactiveSignIn(app: PublicClientApplication) {
  let authorizeUrl = '';
  let delivered: Awaited<ReturnType<typeof completeBrowserSignIn>> | undefined;
  const result = await app.acquireTokenInteractive({
    scopes: SCOPES,
    openBrowser: async (url) => {
      authorizeUrl = url;
      delivered = await completeBrowserSignIn(url, { caPem: tenant.caPem });
    },
    successTemplate: 'Signed in; you may close this window.',
    errorTemplate: 'Sign-in failed.',
  });
  return { result, authorizeUrl, delivered };
}

async function postForm(url: string, fields: Record<string, string>, caPem = tenant.caPem): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = new URLSearchParams(fields).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: caPem, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function endpoint(target: MockTenant, name: 'authorize' | 'token' | 'devicecode'): string {
  return `${target.authorityHost}/${target.tenantId}/oauth2/v2.0/${name}`;
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An authorization by hand (response_mode=query) that stops before the redirect URI. */
async function authorizeByHand(target: MockTenant, challenge: string, extra: Record<string, string> = {}): Promise<Readonly<Record<string, string>>> {
  const url = new URL(endpoint(target, 'authorize'));
  const params = {
    client_id: target.publicClientId,
    response_type: 'code',
    response_mode: 'query',
    redirect_uri: 'http://localhost:9/',
    scope: `${SCOPES.join(' ')} openid profile`,
    state: 'state-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const answer = await completeBrowserSignIn(url.href, { caPem: target.caPem, deliver: false });
  return answer.fields;
}

function redeemCode(target: MockTenant, code: string, verifier: string, redirectUri = 'http://localhost:9/') {
  return postForm(
    endpoint(target, 'token'),
    { client_id: target.publicClientId, grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri, scope: SCOPES.join(' ') },
    target.caPem,
  );
}

function redeemRefreshToken(target: MockTenant, refreshToken: string) {
  return postForm(
    endpoint(target, 'token'),
    { client_id: target.publicClientId, grant_type: 'refresh_token', refresh_token: refreshToken, scope: SCOPES.join(' ') },
    target.caPem,
  );
}

function activeRefreshToken(user = MOCK_MAILBOX): string {
  const active = tenant.identity.refreshTokens(user).filter((token) => token.state === 'active');
  expect(active).toHaveLength(1);
  return active[0]?.value ?? '';
}

async function signedInAccount(app: PublicClientApplication): Promise<AccountInfo> {
  const { result } = await interactiveSignIn(app);
  if (result.account === null) throw new Error('no account after sign-in');
  return result.account;
}

describe('authorization code with PKCE (acquireTokenInteractive)', () => {
  it('signs the user in through the loopback redirect; Exchange accepts the token', async () => {
    const issuedBefore = tenant.identity.issuedRefreshTokens;
    const { result, authorizeUrl, delivered } = await interactiveSignIn(publicClient());

    const asked = new URL(authorizeUrl).searchParams;
    expect(asked.get('code_challenge_method')).toBe('S256');
    expect(asked.get('redirect_uri')).toMatch(/^http:\/\/localhost:\d+$/);
    expect(delivered).toMatchObject({ mode: 'form_post', appStatus: 200, appBody: 'Signed in; you may close this window.' });

    expect(result.account?.username).toBe(MOCK_MAILBOX);
    expect(result.account?.tenantId).toBe(tenant.tenantId);
    expect(result.idTokenClaims).toMatchObject({ preferred_username: MOCK_MAILBOX, aud: tenant.publicClientId, tid: tenant.tenantId });
    expect(decodeJwt(result.accessToken)).toMatchObject({ aud: 'https://outlook.office.com', scp: 'SMTP.Send', preferred_username: MOCK_MAILBOX });
    expect(tenant.identity.issuedRefreshTokens).toBe(issuedBefore + 1);

    const dialog = await SmtpWire.open(tenant.upstream.port);
    try {
      await dialog.expect(dialog.reply(), 220);
      await dialog.secure(tenant.caPem);
      expect((await dialog.authXoauth2(MOCK_MAILBOX, result.accessToken)).code).toBe(235);
    } finally {
      dialog.close();
    }
  });

  it('signs in whoever signInAs named', async () => {
    tenant.identity.signInAs(OTHER_USER);
    const { result } = await interactiveSignIn(publicClient());
    expect(result.account?.username).toBe(OTHER_USER);
    expect(result.idTokenClaims).toMatchObject({ preferred_username: OTHER_USER });
  });

  it('answers at the multi-tenant authority "organizations" (the config default) too', async () => {
    const app = publicClient(tenant, 'organizations');
    const account = await signedInAccount(app);
    expect(account.tenantId).toBe(tenant.tenantId);
    const refreshed = await app.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
    expect(refreshed.account?.username).toBe(MOCK_MAILBOX);
  });

  it('refuses a code verifier that does not match the challenge (AADSTS501481)', async () => {
    const a = pkcePair();
    const b = pkcePair();
    const { code } = await authorizeByHand(tenant, a.challenge);
    const refused = await redeemCode(tenant, code ?? '', b.verifier);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect(refused.body.error_description).toMatch(/^AADSTS501481: The Code_Verifier does not match the code_challenge/);
  });

  it('redeems a code once only (AADSTS54005) and checks the redirect URI', async () => {
    const pair = pkcePair();
    const { code, state } = await authorizeByHand(tenant, pair.challenge);
    expect(state).toBe('state-1');
    const first = await redeemCode(tenant, code ?? '', pair.verifier);
    expect(first.status).toBe(200);
    expect(typeof first.body.refresh_token).toBe('string');
    const again = await redeemCode(tenant, code ?? '', pair.verifier);
    expect(again.body).toMatchObject({ error: 'invalid_grant' });
    expect(again.body.error_description).toMatch(/^AADSTS54005:/);

    const other = await authorizeByHand(tenant, pair.challenge);
    const wrongRedirect = await redeemCode(tenant, other.code ?? '', pair.verifier, 'http://localhost:10/');
    expect(wrongRedirect.body.error_description).toMatch(/^AADSTS500112:/);
  });

  it('refuses an authorization without PKCE, and an unknown client or a non-loopback redirect URI', async () => {
    const noPkce = await authorizeByHand(tenant, '', {});
    expect(noPkce.error).toBe('invalid_request');
    expect(noPkce.code).toBeUndefined();
    const plain = await authorizeByHand(tenant, 'x'.repeat(43), { code_challenge_method: 'plain' });
    expect(plain.error).toBe('invalid_request');

    await expect(authorizeByHand(tenant, pkcePair().challenge, { client_id: tenant.clientId })).rejects.toThrow(/AADSTS700016/);
    await expect(authorizeByHand(tenant, pkcePair().challenge, { redirect_uri: 'https://evil.example/' })).rejects.toThrow(/AADSTS50011/);
  });
});

describe('device code (acquireTokenByDeviceCode)', () => {
  it('polls while pending and gets tokens once a person approves on the verification page', async () => {
    tenant.identity.configureDeviceCodes({ intervalSeconds: 0.05 });
    const requestsBefore = tenant.identity.tokenRequests;
    let approval: Promise<{ status: number }> | undefined;
    let message = '';
    const result = await publicClient().acquireTokenByDeviceCode({
      scopes: SCOPES,
      deviceCodeCallback: (response) => {
        message = response.message;
        approval = (async () => {
          // Approve only after the client has been told "authorization_pending" at least once.
          while (tenant.identity.tokenRequests === requestsBefore) await new Promise((resolve) => setTimeout(resolve, 10));
          return openDeviceLoginPage(response.verificationUri, response.userCode, { caPem: tenant.caPem });
        })();
      },
    });
    expect((await approval)?.status).toBe(200);
    expect(message).toContain(tenant.identity.deviceLoginUri);
    expect(tenant.identity.tokenRequests - requestsBefore).toBeGreaterThanOrEqual(2);
    expect(result?.account?.username).toBe(MOCK_MAILBOX);
    expect(decodeJwt(result?.accessToken ?? '')).toMatchObject({ scp: 'SMTP.Send' });
  });

  it('fails with authorization_declined when the person declines', async () => {
    tenant.identity.configureDeviceCodes({ intervalSeconds: 0.05 });
    const attempt = publicClient().acquireTokenByDeviceCode({
      scopes: SCOPES,
      deviceCodeCallback: (response) => {
        tenant.identity.declineDeviceCode(response.userCode);
      },
    });
    const failure = await attempt.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AuthError);
    expect((failure as AuthError).message).toContain('authorization_declined');
  });
});

describe('refresh tokens', () => {
  it('uses the cached token silently, and a forced refresh rotates the refresh token', async () => {
    const app = publicClient();
    const account = await signedInAccount(app);
    const first = activeRefreshToken();

    const requests = tenant.identity.tokenRequests;
    await app.acquireTokenSilent({ account, scopes: SCOPES });
    expect(tenant.identity.tokenRequests).toBe(requests);

    const redemptions = tenant.identity.refreshRedemptions;
    const issued = tenant.identity.issuedRefreshTokens;
    const refreshed = await app.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
    expect(refreshed.account?.username).toBe(MOCK_MAILBOX);
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 1);
    expect(tenant.identity.issuedRefreshTokens).toBe(issued + 1);
    const second = activeRefreshToken();
    expect(second).not.toBe(first);
    expect(tenant.identity.refreshTokens().find((token) => token.value === first)?.state).toBe('rotated');
    expect(app.getTokenCache().serialize()).toContain(second);

    const reused = await redeemRefreshToken(tenant, first);
    expect(reused.body.error).toBe('invalid_grant');

    // MSAL kept the new refresh token: the next forced refresh redeems it.
    await app.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 2);
    expect(tenant.identity.refreshTokens().find((token) => token.value === second)?.state).toBe('rotated');
  });

  it('failRefresh AADSTS700082 reaches MSAL as invalid_grant with the AADSTS code', async () => {
    const app = publicClient();
    const account = await signedInAccount(app);
    tenant.identity.failRefresh({
      error: 'invalid_grant',
      error_description: 'AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2026-08-01T00:00:00Z and was inactive for 90.00:00:00.',
    });
    const failure = await app.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AuthError);
    expect((failure as AuthError).errorCode).toBe('invalid_grant');
    expect((failure as AuthError).message).toContain('AADSTS700082');
    // The scripted failure fired once; the refresh token itself is still good.
    await expect(app.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true })).resolves.toMatchObject({ account: { username: MOCK_MAILBOX } });
  });

  it('refuses revoked refresh tokens with AADSTS50173', async () => {
    const app = publicClient();
    const account = await signedInAccount(app);
    expect(tenant.identity.revokeRefreshTokens(MOCK_MAILBOX)).toBe(1);
    const failure = await app.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true }).catch((error: unknown) => error);
    expect((failure as AuthError).errorCode).toBe('invalid_grant');
    expect((failure as AuthError).message).toContain('AADSTS50173');
  });
});

describe('time limits, on the provider clock', () => {
  let timed: MockTenant;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    timed = await startMockTenant({ identityClock: clock });
  });

  afterAll(async () => {
    await timed.close();
  });

  it('an authorization code expires after 10 minutes (AADSTS70008)', async () => {
    const pair = pkcePair();
    const { code } = await authorizeByHand(timed, pair.challenge);
    await clock.advance(601_000);
    const late = await redeemCode(timed, code ?? '', pair.verifier);
    expect(late.body.error).toBe('invalid_grant');
    expect(late.body.error_description).toMatch(/^AADSTS70008:/);
  });

  it('a device code is pending, then expired_token after its lifetime', async () => {
    const started = await postForm(endpoint(timed, 'devicecode'), { client_id: timed.publicClientId, scope: SCOPES.join(' ') }, timed.caPem);
    expect(started.body).toMatchObject({ expires_in: 900, interval: 1 });
    const poll = () =>
      postForm(endpoint(timed, 'token'), { client_id: timed.publicClientId, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: String(started.body.device_code) }, timed.caPem);
    expect((await poll()).body.error).toBe('authorization_pending');
    await clock.advance(901_000);
    expect((await poll()).body.error).toBe('expired_token');
  });

  it('a refresh token unused for more than 90 days is refused with AADSTS700082; one used within is not', async () => {
    const pair = pkcePair();
    const { code } = await authorizeByHand(timed, pair.challenge);
    const tokens = await redeemCode(timed, code ?? '', pair.verifier);
    await clock.advance(89 * 86_400_000);
    const kept = await redeemRefreshToken(timed, String(tokens.body.refresh_token));
    expect(kept.status).toBe(200);
    await clock.advance(91 * 86_400_000);
    const lapsed = await redeemRefreshToken(timed, String(kept.body.refresh_token));
    expect(lapsed.body.error).toBe('invalid_grant');
    expect(lapsed.body.error_description).toMatch(/^AADSTS700082:/);
  });
});
