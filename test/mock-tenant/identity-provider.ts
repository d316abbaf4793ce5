/**
 * A fake Microsoft Entra ID (the identity provider of the mock tenant), over HTTPS on 127.0.0.1.
 *
 * oauth2-mock-server issues and signs the tokens; in front of it this file adds what the
 * relay depends on and the library does not do:
 * - Entra's URL layout (`/{tenant}/v2.0/.well-known/openid-configuration`,
 *   `/{tenant}/oauth2/v2.0/token`, `/{tenant}/discovery/v2.0/keys`), so the real MSAL finds it
 *   with nothing more than an authority URL;
 * - a client-secret check with Entra's replies (oauth2-mock-server accepts any secret);
 * - tokens shaped like Entra's for Exchange Online (aud, roles/scp, tid, oid, appid);
 * - scripted failures and a count of token requests for tests;
 * - the delegated flows with Entra's checks (delegated-grants.ts): authorization code with
 *   PKCE, device code, rotating refresh tokens, for the public client.
 *
 * Entra error shapes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHash, X509Certificate } from 'node:crypto';
import { decodeProtectedHeader, importX509, jwtVerify } from 'jose';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';
import { systemClock, type Clock } from '../../src/core/clock.js';
import type { TestCertificates } from './certs.js';
import {
  DelegatedGrants,
  type DeviceCodeSettings,
  type DeviceCodeState,
  type EndpointAnswer,
  type IssuedRefreshToken,
  type RefreshFailure,
} from './delegated-grants.js';
import { entraError } from './entra-error-body.js';

/** Audience of app-only and delegated Exchange Online tokens (what Entra puts in `aud`). */
export const EXCHANGE_APP_AUDIENCE = 'https://outlook.office365.com';
export const EXCHANGE_DELEGATED_AUDIENCE = 'https://outlook.office.com';
/** Application permission for SMTP AUTH as an app; delegated permission for a user. */
export const SEND_AS_APP_ROLE = 'SMTP.SendAsApp';
export const SEND_SCOPE = 'SMTP.Send';
/** Microsoft Graph: audience, and the permission that sendMail needs (application role or delegated scope). */
export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';
export const GRAPH_MAIL_SEND = 'Mail.Send';

/** A reply the token endpoint gives instead of a token, shaped like Entra's. */
export interface TokenEndpointFailure {
  readonly status: number;
  readonly error: string;
  readonly error_description: string;
}

export interface IdentityProviderOptions {
  readonly certificates: TestCertificates;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Object id of the app's service principal (the `oid` of app-only tokens). */
  readonly servicePrincipalId: string;
  /** The signed-in user of delegated grants (`preferred_username`). */
  readonly delegatedUser: string;
  readonly port?: number;
  readonly host?: string;
  /** Lifetime of issued access tokens; Entra's are 60 to 90 minutes. */
  readonly tokenLifetimeSeconds?: number;
  /**
   * Client id of the public client (no secret) allowed the delegated flows; without it every
   * delegated request is refused as an unknown application.
   */
  readonly publicClientId?: string;
  /** Time for authorization codes, device codes and refresh-token inactivity (not JWT iat/exp). */
  readonly clock?: Clock;
  /** 'strict' (default): a refresh token works once; 'lenient': it stays valid after rotation. */
  readonly refreshTokenRotation?: 'strict' | 'lenient';
  /** Entra's default: 90 days. */
  readonly refreshTokenMaxInactiveSeconds?: number;
  /** PEM certificate registered on the app: client assertions must be signed with its key. */
  readonly clientCertificatePem?: string;
}

interface TokenRequestBody {
  grant_type?: string;
  client_id?: string;
  client_secret?: string;
  scope?: string;
}

/** Fixed user object id for delegated tokens; any stable GUID will do. */
const DELEGATED_USER_OID = '22222222-2222-4222-8222-222222222222';

export class MockIdentityProvider {
  private readonly options: IdentityProviderOptions;
  private readonly issuer: OAuth2Issuer;
  private readonly service: OAuth2Service;
  private readonly server: Server;
  private readonly failures: { failure: TokenEndpointFailure; remaining: number }[] = [];
  private readonly delegated: DelegatedGrants;
  /** Token requests whose client assertion was verified against the registered certificate. */
  private readonly assertedClients = new WeakSet<object>();
  private clientCertificatePem: string | undefined;
  private port = 0;
  private requestCount = 0;

  private constructor(options: IdentityProviderOptions) {
    this.options = options;
    this.clientCertificatePem = options.clientCertificatePem;
    this.issuer = new OAuth2Issuer();
    this.service = new OAuth2Service(this.issuer);
    this.service.on('beforeTokenSigning', (token, req) => this.shapeToken(token.payload, req.body as TokenRequestBody));
    this.service.on('beforeResponse', (response, req) => this.checkClientAndShape(response, req.body as TokenRequestBody));
    this.delegated = new DelegatedGrants({
      tenantId: options.tenantId,
      publicClientId: options.publicClientId ?? '',
      defaultUser: options.delegatedUser,
      defaultUserOid: DELEGATED_USER_OID,
      clock: options.clock ?? systemClock,
      accessTokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
      verificationUri: () => `${this.authorityHost}/devicelogin`,
      sign: (claims, lifetimeSeconds) => this.signToken(claims, lifetimeSeconds),
      ...(options.refreshTokenRotation === undefined ? {} : { refreshTokenRotation: options.refreshTokenRotation }),
      ...(options.refreshTokenMaxInactiveSeconds === undefined ? {} : { refreshTokenMaxInactiveSeconds: options.refreshTokenMaxInactiveSeconds }),
    });
    this.server = createServer({ key: options.certificates.keyPem, cert: options.certificates.certPem }, (req, res) => {
      this.route(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(error) });
        else res.destroy();
      });
    });
  }

  static async start(options: IdentityProviderOptions): Promise<MockIdentityProvider> {
    const provider = new MockIdentityProvider(options);
    // Entra signs with RS256 keys published at jwks_uri.
    await provider.issuer.keys.generate('RS256');
    await provider.up(options.port ?? 0);
    return provider;
  }

  /** `https://127.0.0.1:PORT`, what the relay calls `identity.authorityHost`. */
  get authorityHost(): string {
    return `https://${this.host}:${this.port}`;
  }

  /** Entra v2.0 issuer: `https://login.microsoftonline.com/{tenant}/v2.0`. */
  get issuerUrl(): string {
    return `${this.authorityHost}/${this.options.tenantId}/v2.0`;
  }

  get jwksUri(): string {
    return `${this.authorityHost}/${this.options.tenantId}/discovery/v2.0/keys`;
  }

  /** Every POST to the token endpoint, answered or failed. */
  get tokenRequests(): number {
    return this.requestCount;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** The next `times` token requests are answered with `failure` instead of a token. */
  failNext(failure: TokenEndpointFailure, times = 1): void {
    this.failures.push({ failure, remaining: times });
  }

  /** Registers the app's certificate (PEM): from now on client assertions are checked against it. */
  registerClientCertificate(certificatePem: string | undefined): void {
    this.clientCertificatePem = certificatePem;
  }

  /** Forgets failures that have not fired yet. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  /** Signs a token directly, e.g. one with a wrong audience for a negative test. */
  async signToken(claims: Record<string, unknown>, lifetimeSeconds = 3600): Promise<string> {
    return this.issuer.buildToken({
      expiresIn: lifetimeSeconds,
      scopesOrTransform: (_header, payload) => Object.assign(payload, claims),
    });
  }

  // ---- delegated flows (public client) -------------------------------------------------

  /** The user signed in by every following authorization and device-code approval (sticky). */
  signInAs(user: string): void {
    this.delegated.signInAs(user);
  }

  get signedInUser(): string {
    return this.delegated.signedInUser;
  }

  /** Revokes the active refresh tokens of `user` (of everyone when not given); returns how many. */
  revokeRefreshTokens(user?: string): number {
    return this.delegated.revokeRefreshTokens(user);
  }

  /** The next `failure.times` (default 1) refresh_token grants are refused with `failure`. */
  failRefresh(failure: RefreshFailure): void {
    this.delegated.failRefresh(failure);
  }

  clearRefreshFailures(): void {
    this.delegated.clearRefreshFailures();
  }

  /** refresh_token grants answered with tokens. */
  get refreshRedemptions(): number {
    return this.delegated.refreshRedemptions;
  }

  /** Refresh tokens issued by any grant. */
  get issuedRefreshTokens(): number {
    return this.delegated.issuedRefreshTokens;
  }

  /** Every refresh token issued (to `user` when given), oldest first, with its state. */
  refreshTokens(user?: string): IssuedRefreshToken[] {
    return this.delegated.refreshTokens(user);
  }

  /** Polling interval and lifetime announced for new device codes (defaults 1 s and 900 s). */
  configureDeviceCodes(settings: DeviceCodeSettings): void {
    this.delegated.configureDeviceCodes(settings);
  }

  /** Approves a pending device code as `user` (the signed-in user by default). */
  pendingDeviceCodes(): string[] {
    return this.delegated.pendingDeviceCodes();
  }

  approveDeviceCode(userCode: string, user?: string): void {
    this.delegated.approveDeviceCode(userCode, user);
  }

  declineDeviceCode(userCode: string): void {
    this.delegated.declineDeviceCode(userCode);
  }

  deviceCodeState(userCode: string): DeviceCodeState | undefined {
    return this.delegated.deviceCodeState(userCode);
  }

  /** Where a person goes to enter a device code: `https://127.0.0.1:PORT/devicelogin`. */
  get deviceLoginUri(): string {
    return `${this.authorityHost}/devicelogin`;
  }

  /** Stops answering (connections are dropped): clients see a network error. */
  async down(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Listens again, on the same port as before unless `port` is given. */
  async up(port = this.port): Promise<void> {
    if (this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.issuer.url = this.issuerUrl;
  }

  async close(): Promise<void> {
    await this.down();
  }

  private get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  /** Maps Entra's paths onto oauth2-mock-server's routes or the delegated flows, after the tenant check. */
  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.authorityHost);
    // Like https://microsoft.com/devicelogin, the device login page is outside any tenant.
    if (req.method === 'GET' && url.pathname === '/devicelogin') {
      sendAnswer(res, this.delegated.deviceLoginPage(url.searchParams));
      return;
    }
    const [tenant, ...rest] = url.pathname.split('/').filter((segment) => segment !== '');
    const path = `/${rest.join('/')}`;
    // Entra's multi-tenant aliases: "organizations" (any work account) and "common".
    if (tenant !== this.options.tenantId && tenant !== 'organizations' && tenant !== 'common') {
      sendJson(res, 400, entraError('invalid_tenant', 'AADSTS90002', `Tenant '${tenant ?? ''}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`));
      return;
    }
    if (req.method === 'GET' && path === '/v2.0/.well-known/openid-configuration') {
      sendJson(res, 200, this.discoveryDocument(tenant));
      return;
    }
    if (req.method === 'GET' && path === '/discovery/v2.0/keys') return this.forward(req, res, '/jwks', url);
    if (req.method === 'GET' && path === '/oauth2/v2.0/authorize') {
      sendAnswer(res, this.delegated.authorize(url.searchParams));
      return;
    }
    if (req.method === 'POST' && path === '/oauth2/v2.0/devicecode') {
      sendAnswer(res, this.delegated.deviceAuthorization(await readForm(req)));
      return;
    }
    if (req.method === 'POST' && path === '/oauth2/v2.0/token') {
      this.requestCount += 1;
      const form = await readForm(req);
      const scripted = this.takeFailure();
      if (scripted !== undefined) {
        sendJson(res, scripted.status, { error: scripted.error, error_description: scripted.error_description });
        return;
      }
      if (DelegatedGrants.handles(form.grant_type)) {
        sendAnswer(res, await this.delegated.token(form));
        return;
      }
      if (form.client_assertion !== undefined) {
        const refusal = await verifyClientAssertion(form, this.clientCertificatePem, this.options.clientId, `${this.authorityHost}${url.pathname}`);
        if (refusal !== undefined) {
          sendJson(res, 401, entraError('invalid_client', refusal.code, refusal.description));
          return;
        }
        this.assertedClients.add(form);
      }
      // The body is read: body-parser sees a finished request and keeps req.body as given.
      (req as IncomingMessage & { body?: unknown }).body = form;
      return this.forward(req, res, '/token', url);
    }
    sendJson(res, 404, { error: 'not_found' });
  }

  private forward(req: IncomingMessage, res: ServerResponse, target: string, url: URL): void {
    req.url = `${target}${url.search}`;
    this.service.requestHandler(req, res);
  }

  private takeFailure(): TokenEndpointFailure | undefined {
    const next = this.failures[0];
    if (next === undefined) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) this.failures.shift();
    return next.failure;
  }

  /** The fields MSAL reads, with Entra's values and paths. */
  private discoveryDocument(tenant: string): Record<string, unknown> {
    const base = `${this.authorityHost}/${tenant}`;
    return {
      issuer: this.issuerUrl,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      jwks_uri: this.jwksUri,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
    };
  }

  /** Claims like Entra's for Exchange Online; runs for every token oauth2-mock-server signs. */
  private shapeToken(payload: Record<string, unknown>, body: TokenRequestBody): void {
    const { tenantId, clientId } = this.options;
    const lifetime = this.options.tokenLifetimeSeconds;
    if (lifetime !== undefined && typeof payload.iat === 'number') payload.exp = payload.iat + lifetime;
    payload.tid = tenantId;
    if (body.grant_type === 'client_credentials') {
      // App-only: the permission is an application role, there is no user and no scp.
      // The resource of the .default scope decides the audience: Exchange Online or Graph.
      const graph = (body.scope ?? '').startsWith(GRAPH_AUDIENCE);
      delete payload.scope;
      Object.assign(payload, {
        aud: graph ? GRAPH_AUDIENCE : EXCHANGE_APP_AUDIENCE,
        roles: [graph ? GRAPH_MAIL_SEND : SEND_AS_APP_ROLE],
        oid: this.options.servicePrincipalId,
        sub: this.options.servicePrincipalId,
        appid: clientId,
        azp: clientId,
        idtyp: 'app',
      });
      return;
    }
    const user = { oid: DELEGATED_USER_OID, preferred_username: this.options.delegatedUser, name: 'Mock User' };
    if (payload.aud === (body.client_id ?? clientId)) {
      // The id_token oauth2-mock-server adds for user grants: its audience is the client.
      Object.assign(payload, user, { sub: DELEGATED_USER_OID, ver: '2.0' });
      return;
    }
    delete payload.scope;
    Object.assign(payload, user, {
      aud: EXCHANGE_DELEGATED_AUDIENCE,
      scp: SEND_SCOPE,
      upn: this.options.delegatedUser,
      sub: DELEGATED_USER_OID,
      appid: clientId,
      azp: clientId,
    });
  }

  /**
   * Entra refuses a confidential client whose secret is wrong with HTTP 401 invalid_client
   * (AADSTS7000215), and an unknown client id with 400 unauthorized_client (AADSTS700016).
   */
  private checkClientAndShape(response: { statusCode: number; body: Record<string, unknown> | '' }, body: TokenRequestBody): void {
    const refuse = (status: number, error: Record<string, unknown>): void => {
      response.statusCode = status;
      response.body = error;
    };
    const { tenantId, clientId, clientSecret } = this.options;
    if (body.client_id !== clientId) {
      refuse(400, entraError('unauthorized_client', 'AADSTS700016', `Application with identifier '${String(body.client_id)}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`));
      return;
    }
    if (body.grant_type === 'client_credentials' && body.client_secret === undefined && !this.assertedClients.has(body)) {
      refuse(401, entraError('invalid_client', 'AADSTS7000218', "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."));
      return;
    }
    if (body.client_secret !== undefined && body.client_secret !== clientSecret) {
      refuse(401, entraError('invalid_client', 'AADSTS7000215', `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`));
      return;
    }
    if (response.body === '') return;
    if (this.options.tokenLifetimeSeconds !== undefined) response.body.expires_in = this.options.tokenLifetimeSeconds;
    if (body.grant_type !== 'client_credentials') {
      // MSAL builds the account from client_info (uid, utid), as Entra sends it.
      response.body.client_info = Buffer.from(JSON.stringify({ uid: DELEGATED_USER_OID, utid: tenantId })).toString('base64url');
    }
  }
}

/**
 * Entra's check of a certificate credential (RFC 7523 client assertion): signed with the key of
 * the registered certificate (header x5t#S256 names it), iss = sub = client id, aud = the token
 * endpoint, within its validity (Entra allows 5 minutes of clock skew).
 * https://learn.microsoft.com/entra/identity-platform/certificate-credentials
 */
async function verifyClientAssertion(
  form: Record<string, string>,
  certificatePem: string | undefined,
  clientId: string,
  tokenEndpoint: string,
): Promise<{ code: string; description: string } | undefined> {
  const invalid = (code: string, description: string) => ({ code, description });
  if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    return invalid('AADSTS50027', 'Invalid client_assertion_type.');
  }
  if (certificatePem === undefined) return invalid('AADSTS700027', 'Client assertion failed signature validation: no certificate is registered for the application.');
  const certificate = new X509Certificate(certificatePem);
  const thumbprint = createHash('sha256').update(certificate.raw).digest('base64url');
  try {
    const header = decodeProtectedHeader(form.client_assertion ?? '');
    if (header['x5t#S256'] !== thumbprint) {
      return invalid('AADSTS700027', `Client assertion failed signature validation. The key was not found: thumbprint ${String(header['x5t#S256'])}.`);
    }
    const key = await importX509(certificatePem, header.alg ?? 'RS256');
    await jwtVerify(form.client_assertion ?? '', key, { issuer: clientId, subject: clientId, audience: tokenEndpoint, algorithms: ['RS256', 'PS256'], requiredClaims: ['exp'], clockTolerance: 300 });
  } catch (error) {
    return invalid('AADSTS700027', `Client assertion failed signature validation. ${(error as Error).message}`);
  }
  return undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendAnswer(res: ServerResponse, answer: EndpointAnswer): void {
  switch (answer.kind) {
    case 'json':
      sendJson(res, answer.status, answer.body);
      return;
    case 'redirect':
      res.writeHead(302, { location: answer.location, 'cache-control': 'no-store' });
      res.end();
      return;
    case 'html':
      res.writeHead(answer.status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(answer.html);
  }
}

/** An application/x-www-form-urlencoded body (what OAuth token requests carry) as a plain object. */
async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}
