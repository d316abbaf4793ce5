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
 * - scripted failures and a count of token requests for tests.
 *
 * Entra error shapes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';
import type { TestCertificates } from './certs.js';

/** Audience of app-only and delegated Exchange Online tokens (what Entra puts in `aud`). */
export const EXCHANGE_APP_AUDIENCE = 'https://outlook.office365.com';
export const EXCHANGE_DELEGATED_AUDIENCE = 'https://outlook.office.com';
/** Application permission for SMTP AUTH as an app; delegated permission for a user. */
export const SEND_AS_APP_ROLE = 'SMTP.SendAsApp';
export const SEND_SCOPE = 'SMTP.Send';

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
}

interface TokenRequestBody {
  grant_type?: string;
  client_id?: string;
  client_secret?: string;
}

/** Fixed user object id for delegated tokens; any stable GUID will do. */
const DELEGATED_USER_OID = '22222222-2222-4222-8222-222222222222';

export class MockIdentityProvider {
  private readonly options: IdentityProviderOptions;
  private readonly issuer: OAuth2Issuer;
  private readonly service: OAuth2Service;
  private readonly server: Server;
  private readonly failures: { failure: TokenEndpointFailure; remaining: number }[] = [];
  private port = 0;
  private requestCount = 0;

  private constructor(options: IdentityProviderOptions) {
    this.options = options;
    this.issuer = new OAuth2Issuer();
    this.service = new OAuth2Service(this.issuer);
    this.service.on('beforeTokenSigning', (token, req) => this.shapeToken(token.payload, req.body as TokenRequestBody));
    this.service.on('beforeResponse', (response, req) => this.checkClientAndShape(response, req.body as TokenRequestBody));
    this.server = createServer({ key: options.certificates.keyPem, cert: options.certificates.certPem }, (req, res) =>
      this.route(req, res),
    );
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

  /** Maps Entra's paths onto oauth2-mock-server's routes, after the tenant check. */
  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.authorityHost);
    const [tenant, ...rest] = url.pathname.split('/').filter((segment) => segment !== '');
    const path = `/${rest.join('/')}`;
    if (tenant !== this.options.tenantId) {
      sendJson(res, 400, entraError('invalid_tenant', 'AADSTS90002', `Tenant '${tenant ?? ''}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`));
      return;
    }
    if (req.method === 'GET' && path === '/v2.0/.well-known/openid-configuration') {
      sendJson(res, 200, this.discoveryDocument());
      return;
    }
    if (req.method === 'GET' && path === '/discovery/v2.0/keys') return this.forward(req, res, '/jwks', url);
    if (req.method === 'GET' && path === '/oauth2/v2.0/authorize') return this.forward(req, res, '/authorize', url);
    if (req.method === 'POST' && path === '/oauth2/v2.0/token') {
      this.requestCount += 1;
      const scripted = this.takeFailure();
      if (scripted !== undefined) {
        req.resume();
        sendJson(res, scripted.status, { error: scripted.error, error_description: scripted.error_description });
        return;
      }
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
  private discoveryDocument(): Record<string, unknown> {
    const base = `${this.authorityHost}/${this.options.tenantId}`;
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
      delete payload.scope;
      Object.assign(payload, {
        aud: EXCHANGE_APP_AUDIENCE,
        roles: [SEND_AS_APP_ROLE],
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
    if (body.grant_type === 'client_credentials' && body.client_secret === undefined) {
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

/** Entra's error body: the AADSTS code leads the description and is repeated in error_codes. */
function entraError(error: string, code: string, text: string): Record<string, unknown> {
  return {
    error,
    error_description: `${code}: ${text} Trace ID: 00000000-0000-0000-0000-000000000000 Correlation ID: 00000000-0000-0000-0000-000000000000 Timestamp: ${new Date().toISOString()}`,
    error_codes: [Number(code.slice('AADSTS'.length))],
    timestamp: new Date().toISOString(),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
