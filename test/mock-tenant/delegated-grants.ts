/**
 * The delegated sign-in flows of the fake Entra ID, checked the way Entra checks them
 * (oauth2-mock-server accepts any code and any refresh token, so it cannot prove a client
 * does the protocol right):
 * - authorization code with PKCE (RFC 6749 section 4.1, RFC 7636): codes are single-use,
 *   short-lived and bound to client_id, redirect_uri and the S256 code_challenge;
 * - device authorization grant (RFC 8628) with a verification page a test opens like a person;
 * - refresh tokens (RFC 6749 section 6) that are tracked, rotate on every use, expire after
 *   90 days without use and can be revoked or scripted to fail.
 *
 * There is no login page: whoever `signInAs` named is signed in at once.
 * Entra's replies: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
 * https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code,
 * https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../src/core/clock.js';
import { entraError, entraErrorFromDescription } from './entra-error-body.js';

export const EXCHANGE_DELEGATED_SCOPE = 'https://outlook.office.com/SMTP.Send';
/** Microsoft Graph's delegated Mail.Send, for accounts that send through Graph (one resource per token). */
export const GRAPH_DELEGATED_SCOPE = 'https://graph.microsoft.com/Mail.Send';
/** Scopes of OpenID Connect itself: they ask for an id token or a refresh token, not a resource. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
const DAY_SECONDS = 24 * 60 * 60;

/** What an endpoint answers; the HTTP layer writes it. */
export type EndpointAnswer =
  | { readonly kind: 'json'; readonly status: number; readonly body: Record<string, unknown> }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'html'; readonly status: number; readonly html: string };

/** A scripted refusal of refresh_token grants, e.g. AADSTS700082. */
export interface RefreshFailure {
  readonly error: string;
  readonly error_description: string;
  /** HTTP status; Entra answers invalid_grant with 400. */
  readonly status?: number;
  /** How many refresh requests fail; 1 when not given. */
  readonly times?: number;
}

export type RefreshTokenState = 'active' | 'rotated' | 'revoked';

/** What the provider knows about one refresh token it issued. */
export interface IssuedRefreshToken {
  readonly value: string;
  readonly user: string;
  readonly issuedAt: number;
  readonly state: RefreshTokenState;
}

export type DeviceCodeState = 'pending' | 'approved' | 'declined' | 'redeemed';

export interface DeviceCodeSettings {
  /** Seconds between polls the client is told to wait (MSAL waits exactly interval * 1000 ms). */
  readonly intervalSeconds?: number;
  readonly lifetimeSeconds?: number;
}

export interface DelegatedGrantsOptions {
  readonly tenantId: string;
  readonly publicClientId: string;
  /** Signed in until a test calls signInAs. */
  readonly defaultUser: string;
  /** Object id of defaultUser; other users get one derived from their name. */
  readonly defaultUserOid: string;
  readonly clock: Clock;
  readonly accessTokenLifetimeSeconds: number;
  /** `https://127.0.0.1:PORT/devicelogin`, asked each time (the port can change on up()). */
  readonly verificationUri: () => string;
  /** Signs a JWT with the tenant's keys; `claims` are merged over iss/iat/exp/nbf. */
  readonly sign: (claims: Record<string, unknown>, lifetimeSeconds: number) => Promise<string>;
  /**
   * 'strict' (default): a refresh token works once. 'lenient': the old one stays valid after
   * rotation, as Entra allows for a while.
   */
  readonly refreshTokenRotation?: 'strict' | 'lenient';
  /** Entra's refresh tokens die after 90 days without use (AADSTS700082). */
  readonly refreshTokenMaxInactiveSeconds?: number;
  /** Entra's authorization codes live about 10 minutes. */
  readonly authorizationCodeLifetimeSeconds?: number;
}

interface AuthorizationCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly scopes: readonly string[];
  readonly nonce: string | undefined;
  readonly user: string;
  readonly expiresAt: number;
  redeemed: boolean;
}

interface RefreshTokenRecord {
  readonly value: string;
  readonly user: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly issuedAt: number;
  state: RefreshTokenState;
}

interface DeviceCodeRecord {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  state: DeviceCodeState;
  user: string | undefined;
}

type Form = Readonly<Record<string, string | undefined>>;

/** Grant types this class answers; everything else goes to oauth2-mock-server. */
const DELEGATED_GRANTS = new Set([
  'authorization_code',
  'refresh_token',
  // MSAL Node sends the short form; RFC 8628 section 3.4 defines the URN.
  'device_code',
  'urn:ietf:params:oauth:grant-type:device_code',
]);

export class DelegatedGrants {
  private readonly options: DelegatedGrantsOptions;
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly refreshTokensByValue = new Map<string, RefreshTokenRecord>();
  private readonly deviceCodes = new Map<string, DeviceCodeRecord>();
  private readonly refreshFailures: { failure: RefreshFailure; remaining: number }[] = [];
  private currentUser: string;
  private deviceSettings: Required<DeviceCodeSettings> = { intervalSeconds: 1, lifetimeSeconds: 900 };
  private redemptions = 0;
  private issued = 0;

  constructor(options: DelegatedGrantsOptions) {
    this.options = options;
    this.currentUser = options.defaultUser;
  }

  static handles(grantType: string | undefined): boolean {
    return grantType !== undefined && DELEGATED_GRANTS.has(grantType);
  }

  // ---- test controls -------------------------------------------------------------------

  /** The user signed in by every following authorization and device approval. */
  signInAs(user: string): void {
    this.currentUser = user;
  }

  get signedInUser(): string {
    return this.currentUser;
  }

  /** Revokes the active refresh tokens of `user` (all users when not given); returns how many. */
  revokeRefreshTokens(user?: string): number {
    let revoked = 0;
    for (const record of this.refreshTokensByValue.values()) {
      if (record.state !== 'active' || (user !== undefined && record.user !== user)) continue;
      record.state = 'revoked';
      revoked += 1;
    }
    return revoked;
  }

  /** The next `times` (default 1) refresh_token requests are refused with `failure`. */
  failRefresh(failure: RefreshFailure): void {
    this.refreshFailures.push({ failure, remaining: failure.times ?? 1 });
  }

  clearRefreshFailures(): void {
    this.refreshFailures.length = 0;
  }

  /** Refresh_token grants that were answered with tokens. */
  get refreshRedemptions(): number {
    return this.redemptions;
  }

  /** Refresh tokens issued by every grant. */
  get issuedRefreshTokens(): number {
    return this.issued;
  }

  /** Every refresh token issued (to `user` when given), oldest first. */
  refreshTokens(user?: string): IssuedRefreshToken[] {
    return [...this.refreshTokensByValue.values()]
      .filter((record) => user === undefined || record.user === user)
      .map(({ value, user: owner, issuedAt, state }) => ({ value, user: owner, issuedAt, state }));
  }

  configureDeviceCodes(settings: DeviceCodeSettings): void {
    this.deviceSettings = { ...this.deviceSettings, ...settings };
  }

  /** User codes handed out and not yet approved, declined or expired: what a person would be reading now. */
  pendingDeviceCodes(): string[] {
    return [...this.deviceCodes.values()].filter((record) => record.state === 'pending').map((record) => record.userCode);
  }

  /** What a person does on the verification page: approves as `user` (the signed-in user by default). */
  approveDeviceCode(userCode: string, user = this.currentUser): void {
    const record = this.pendingDeviceCode(userCode);
    record.state = 'approved';
    record.user = user;
  }

  declineDeviceCode(userCode: string): void {
    this.pendingDeviceCode(userCode).state = 'declined';
  }

  deviceCodeState(userCode: string): DeviceCodeState | undefined {
    return this.findByUserCode(userCode)?.state;
  }

  // ---- endpoints -----------------------------------------------------------------------

  /** GET /{tenant}/oauth2/v2.0/authorize: signs the current user in at once and answers with a code. */
  authorize(query: URLSearchParams): EndpointAnswer {
    const clientId = query.get('client_id') ?? '';
    if (clientId !== this.options.publicClientId) {
      return errorPage(400, 'AADSTS700016', `Application with identifier '${clientId}' was not found in the directory '${this.options.tenantId}'.`);
    }
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!isLoopbackRedirect(redirectUri)) {
      // Entra shows this on its own page, never at the redirect URI (it cannot be trusted).
      return errorPage(400, 'AADSTS50011', `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'.`);
    }
    const reply = (fields: Record<string, string | undefined>): EndpointAnswer =>
      answerAtRedirect(redirectUri, query.get('response_mode'), { ...fields, state: query.get('state') ?? undefined });
    const fail = (error: string, code: string, text: string): EndpointAnswer =>
      reply({ error, error_description: `${code}: ${text}` });

    if (query.get('response_type') !== 'code') {
      return fail('unsupported_response_type', 'AADSTS700054', "response_type 'code' is required by this provider.");
    }
    const state = query.get('state');
    if (state === null || state === '') return fail('invalid_request', 'AADSTS900144', "The request body must contain the following parameter: 'state'.");
    const challenge = query.get('code_challenge');
    if (challenge === null || challenge === '') {
      return fail('invalid_request', 'AADSTS900144', "The request body must contain the following parameter: 'code_challenge'.");
    }
    // RFC 7636 section 4.2: plain is allowed by the RFC, refused here as MSAL never needs it.
    if (query.get('code_challenge_method') !== 'S256') {
      return fail('invalid_request', 'AADSTS501491', "Invalid size of Code_Challenge parameter or code_challenge_method other than 'S256'.");
    }
    const scopes = splitScopes(query.get('scope'));
    const scopeProblem = checkScopes(scopes);
    if (scopeProblem !== undefined) return fail('invalid_scope', 'AADSTS70011', scopeProblem);

    const code = `code.${randomToken()}`;
    this.codes.set(code, {
      clientId,
      redirectUri,
      codeChallenge: challenge,
      scopes,
      nonce: query.get('nonce') ?? undefined,
      user: this.currentUser,
      expiresAt: this.now() + (this.options.authorizationCodeLifetimeSeconds ?? 600) * 1000,
      redeemed: false,
    });
    return reply({
      code,
      client_info: query.get('client_info') === '1' ? this.clientInfo(this.currentUser) : undefined,
    });
  }

  /** POST /{tenant}/oauth2/v2.0/devicecode (RFC 8628 section 3.2). */
  deviceAuthorization(form: Form): EndpointAnswer {
    const clientId = form.client_id ?? '';
    if (clientId !== this.options.publicClientId) return this.unknownClient(clientId);
    const scopes = splitScopes(form.scope);
    const scopeProblem = checkScopes(scopes);
    if (scopeProblem !== undefined) return json(400, entraError('invalid_scope', 'AADSTS70011', scopeProblem));
    const deviceCode = randomToken();
    const userCode = newUserCode();
    const { intervalSeconds, lifetimeSeconds } = this.deviceSettings;
    this.deviceCodes.set(deviceCode, {
      deviceCode,
      userCode,
      clientId,
      scopes,
      expiresAt: this.now() + lifetimeSeconds * 1000,
      state: 'pending',
      user: undefined,
    });
    const verificationUri = this.options.verificationUri();
    return json(200, {
      user_code: userCode,
      device_code: deviceCode,
      verification_uri: verificationUri,
      expires_in: lifetimeSeconds,
      interval: intervalSeconds,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
    });
  }

  /**
   * GET /devicelogin: the page a person opens. With `user_code` it approves the sign-in as the
   * signed-in user (with `decline=1` it declines), as a person typing the code and consenting.
   */
  deviceLoginPage(query: URLSearchParams): EndpointAnswer {
    const userCode = query.get('user_code');
    if (userCode === null || userCode === '') {
      return html(200, '<h1>Enter code</h1><form method="GET"><input name="user_code"><button>Next</button></form>');
    }
    const record = this.findByUserCode(userCode);
    if (record === undefined || record.state !== 'pending' || record.expiresAt <= this.now()) {
      return html(400, '<h1>That code didn\'t work</h1><p>Check the code and try again.</p>');
    }
    if (query.get('decline') === '1') {
      record.state = 'declined';
      return html(200, '<h1>Sign-in declined</h1>');
    }
    record.state = 'approved';
    record.user = this.currentUser;
    return html(200, `<h1>You have signed in</h1><p>Signed in as ${escapeHtml(this.currentUser)}. You may now close this window.</p>`);
  }

  /** POST /{tenant}/oauth2/v2.0/token for the grants in DELEGATED_GRANTS. */
  async token(form: Form): Promise<EndpointAnswer> {
    const clientId = form.client_id ?? '';
    if (clientId !== this.options.publicClientId) return this.unknownClient(clientId);
    switch (form.grant_type) {
      case 'authorization_code':
        return this.redeemCode(form);
      case 'refresh_token':
        return this.redeemRefreshToken(form);
      default:
        return this.pollDeviceCode(form);
    }
  }

  // ---- grants --------------------------------------------------------------------------

  private async redeemCode(form: Form): Promise<EndpointAnswer> {
    const code = this.codes.get(form.code ?? '');
    if (code === undefined || code.clientId !== form.client_id) {
      return invalidGrant('AADSTS70000', 'Provided grant is invalid or malformed.');
    }
    if (code.redeemed) {
      return invalidGrant('AADSTS54005', 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
    }
    // Single use from here on, even if the rest of the request is wrong (RFC 6749 section 4.1.2).
    code.redeemed = true;
    if (code.expiresAt <= this.now()) {
      return invalidGrant('AADSTS70008', 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.');
    }
    if (form.redirect_uri !== code.redirectUri) {
      return invalidGrant('AADSTS500112', 'The reply address does not match the reply address provided when requesting Authorization code.');
    }
    const verifier = form.code_verifier;
    if (verifier === undefined || verifier === '') {
      return json(400, entraError('invalid_request', 'AADSTS900144', "The request body must contain the following parameter: 'code_verifier'."));
    }
    // RFC 7636 section 4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
    if (s256(verifier) !== code.codeChallenge) {
      return invalidGrant('AADSTS501481', 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
    }
    return this.issueTokens(code.user, code.clientId, code.scopes, { nonce: code.nonce, withRefreshToken: code.scopes.includes('offline_access') });
  }

  private async redeemRefreshToken(form: Form): Promise<EndpointAnswer> {
    const scripted = this.takeRefreshFailure();
    if (scripted !== undefined) return json(scripted.status ?? 400, entraErrorFromDescription(scripted.error, scripted.error_description));
    const record = this.refreshTokensByValue.get(form.refresh_token ?? '');
    if (record === undefined || record.clientId !== form.client_id) {
      return invalidGrant('AADSTS9002313', 'Invalid request. Request is malformed or invalid.');
    }
    if (record.state === 'revoked') {
      return invalidGrant('AADSTS50173', 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.');
    }
    if (record.state === 'rotated' && this.options.refreshTokenRotation !== 'lenient') {
      return invalidGrant('AADSTS70000', 'Provided grant is invalid or malformed. The refresh token was already redeemed.');
    }
    const maxInactive = this.options.refreshTokenMaxInactiveSeconds ?? 90 * DAY_SECONDS;
    const idleSeconds = Math.floor((this.now() - record.issuedAt) / 1000);
    if (idleSeconds > maxInactive) {
      return invalidGrant('AADSTS700082', `The refresh token has expired due to inactivity. The token was issued on ${new Date(record.issuedAt).toISOString()} and was inactive for ${Math.floor(idleSeconds / DAY_SECONDS)}.00:00:00.`);
    }
    // A refresh may narrow the scopes, not widen them (RFC 6749 section 6).
    const requested = splitScopes(form.scope);
    const widened = requested.filter((scope) => !OIDC_SCOPES.has(scope) && !record.scopes.some((s) => sameScope(s, scope)));
    if (widened.length > 0) {
      return json(400, entraError('invalid_grant', 'AADSTS65001', `The user or administrator has not consented to use the application with ID '${record.clientId}' for ${widened.join(' ')}.`));
    }
    if (record.state === 'active') record.state = 'rotated';
    this.redemptions += 1;
    return this.issueTokens(record.user, record.clientId, record.scopes, { nonce: undefined, withRefreshToken: true });
  }

  private async pollDeviceCode(form: Form): Promise<EndpointAnswer> {
    const record = this.deviceCodes.get(form.device_code ?? '');
    if (record === undefined || record.clientId !== form.client_id) {
      return json(400, entraError('bad_verification_code', 'AADSTS70019', 'The device code is not known.'));
    }
    if (record.state === 'redeemed') return invalidGrant('AADSTS70000', 'Provided grant is invalid or malformed. The device code was already redeemed.');
    if (record.expiresAt <= this.now()) {
      return json(400, entraError('expired_token', 'AADSTS70020', 'The provided value for the input parameter \'device_code\' is not valid. This device code has expired.'));
    }
    if (record.state === 'declined') {
      return json(400, entraError('authorization_declined', 'AADSTS70000', 'The user declined to authorize the request.'));
    }
    if (record.state === 'pending' || record.user === undefined) {
      return json(400, entraError('authorization_pending', 'AADSTS70016', 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'));
    }
    record.state = 'redeemed';
    return this.issueTokens(record.user, record.clientId, record.scopes, { nonce: undefined, withRefreshToken: record.scopes.includes('offline_access') });
  }

  /** The token response of Entra v2.0 for a delegated grant. */
  private async issueTokens(
    user: string,
    clientId: string,
    scopes: readonly string[],
    extra: { nonce: string | undefined; withRefreshToken: boolean },
  ): Promise<EndpointAnswer> {
    const { tenantId } = this.options;
    const lifetime = this.options.accessTokenLifetimeSeconds;
    const oid = this.oidOf(user);
    const person = { oid, sub: oid, tid: tenantId, preferred_username: user, name: displayName(user) };
    const resourceScopes = scopes.filter((scope) => !OIDC_SCOPES.has(scope));
    const body: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: resourceScopes.join(' '),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: await this.options.sign(
        {
          ...person,
          aud: resourceScopes.some((scope) => sameScope(scope, GRAPH_DELEGATED_SCOPE)) ? 'https://graph.microsoft.com' : 'https://outlook.office.com',
          // scp holds the permission names without the resource prefix, space-separated.
          scp: resourceScopes.map((scope) => scope.slice(scope.lastIndexOf('/') + 1)).join(' '),
          upn: user,
          appid: clientId,
          azp: clientId,
          idtyp: 'user',
        },
        lifetime,
      ),
      client_info: this.clientInfo(user),
    };
    if (scopes.includes('openid')) {
      body.id_token = await this.options.sign(
        { ...person, aud: clientId, ver: '2.0', ...(extra.nonce === undefined ? {} : { nonce: extra.nonce }) },
        lifetime,
      );
    }
    if (extra.withRefreshToken) body.refresh_token = this.newRefreshToken(user, clientId, scopes);
    return json(200, body);
  }

  private newRefreshToken(user: string, clientId: string, scopes: readonly string[]): string {
    const value = `rt.${randomToken()}`;
    this.refreshTokensByValue.set(value, { value, user, clientId, scopes, issuedAt: this.now(), state: 'active' });
    this.issued += 1;
    return value;
  }

  // ---- helpers -------------------------------------------------------------------------

  private takeRefreshFailure(): RefreshFailure | undefined {
    const next = this.refreshFailures[0];
    if (next === undefined) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) this.refreshFailures.shift();
    return next.failure;
  }

  private pendingDeviceCode(userCode: string): DeviceCodeRecord {
    const record = this.findByUserCode(userCode);
    if (record === undefined) throw new Error(`no device code with user code ${userCode}`);
    if (record.state !== 'pending') throw new Error(`device code ${userCode} is ${record.state}, not pending`);
    return record;
  }

  private findByUserCode(userCode: string): DeviceCodeRecord | undefined {
    const wanted = userCode.trim().toUpperCase();
    return [...this.deviceCodes.values()].find((record) => record.userCode === wanted);
  }

  private unknownClient(clientId: string): EndpointAnswer {
    return json(400, entraError('unauthorized_client', 'AADSTS700016', `Application with identifier '${clientId}' was not found in the directory '${this.options.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`));
  }

  /** MSAL's home account id is uid.utid from client_info (base64url JSON). */
  private clientInfo(user: string): string {
    return Buffer.from(JSON.stringify({ uid: this.oidOf(user), utid: this.options.tenantId })).toString('base64url');
  }

  /** A stable GUID-shaped object id per user name. */
  private oidOf(user: string): string {
    if (user === this.options.defaultUser) return this.options.defaultUserOid;
    const hex = createHash('sha256').update(user.toLowerCase()).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  private now(): number {
    return this.options.clock.now();
  }
}

function json(status: number, body: Record<string, unknown>): EndpointAnswer {
  return { kind: 'json', status, body };
}

function html(status: number, body: string): EndpointAnswer {
  return { kind: 'html', status, html: `<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>${body}</body></html>` };
}

function invalidGrant(code: string, text: string): EndpointAnswer {
  return json(400, entraError('invalid_grant', code, text));
}

function errorPage(status: number, code: string, text: string): EndpointAnswer {
  return html(status, `<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p><p id="error">${escapeHtml(`${code}: ${text}`)}</p>`);
}

/**
 * The authorization response at the client's redirect URI: a self-submitting form for
 * response_mode=form_post (what MSAL Node 7 asks for, and what Entra sends), else a 302 with
 * the fields in the query (RFC 6749 section 4.1.2).
 */
function answerAtRedirect(redirectUri: string, responseMode: string | null, fields: Record<string, string | undefined>): EndpointAnswer {
  const present = Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (responseMode === 'form_post') {
    const inputs = present.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}"/>`).join('');
    return html(
      200,
      `<form method="POST" name="hiddenform" action="${escapeHtml(redirectUri)}">${inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"/></noscript></form><script>document.forms[0].submit()</script>`,
    );
  }
  const url = new URL(redirectUri);
  for (const [name, value] of present) url.searchParams.set(name, value);
  return { kind: 'redirect', location: url.href };
}

/** Entra allows any port on a registered `http://localhost` redirect (RFC 8252 section 7.3). */
function isLoopbackRedirect(redirectUri: string): boolean {
  try {
    const url = new URL(redirectUri);
    return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

function splitScopes(scope: string | null | undefined): string[] {
  return (scope ?? '').split(' ').filter((s) => s !== '');
}

/** Why `scopes` cannot be granted, or undefined. Only Exchange's SMTP.Send is registered. */
function checkScopes(scopes: readonly string[]): string | undefined {
  const resources = scopes.filter((scope) => !OIDC_SCOPES.has(scope));
  const registered = resources.some((scope) => sameScope(scope, GRAPH_DELEGATED_SCOPE)) ? GRAPH_DELEGATED_SCOPE : EXCHANGE_DELEGATED_SCOPE;
  if (!resources.some((scope) => sameScope(scope, registered))) {
    return `The provided value for the input parameter 'scope' is not valid. The scope '${scopes.join(' ')}' does not include ${EXCHANGE_DELEGATED_SCOPE}.`;
  }
  const other = resources.filter((scope) => !sameScope(scope, registered));
  if (other.length > 0) return `The provided value for the input parameter 'scope' is not valid. The scope '${other.join(' ')}' is not configured for this application.`;
  return undefined;
}

function sameScope(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Nine characters without look-alikes (0/O, 1/I), like Entra's user codes. */
function newUserCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return [...randomBytes(9)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

function displayName(user: string): string {
  const local = user.split('@')[0] ?? user;
  return local.charAt(0).toUpperCase() + local.slice(1);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
