/**
 * App-only tokens (OAuth 2.0 client credentials, RFC 6749 section 4.4) for an account whose app
 * registration holds the Exchange Online application permission SMTP.SendAsApp.
 * Microsoft: https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
 *
 * MSAL does the protocol; TokenReuse decides when to ask (the token is kept until 5 minutes
 * before it expires, concurrent callers share one request); this class turns Entra's refusals
 * into SignInRequiredError.
 */
import { readFileSync } from 'node:fs';
import type { AuthenticationResult } from '@azure/msal-node';
import type { Clock } from '../core/clock.js';
import type { AccountConfig, ClientCredentialsAuth, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { AccessToken, TokenProvider } from '../core/token.js';
import { SignInRequiredError } from '../core/token.js';
import { msalClientCertificate, readClientCertificate, readPrivateKeyFile } from './client-certificate.js';
import { classifyErrorBody, classifyTokenError } from './entra-errors.js';
import { HttpsNetworkClient } from './https-network-client.js';
import { ConfidentialClientApplication } from './lazy-msal.js';
import { msalAuthority, msalSystemOptions } from './msal-options.js';
import type { TokenRequestObserver } from './token-request-observer.js';
import { TokenReuse } from './token-reuse.js';

export { REFRESH_BEFORE_EXPIRY_MS } from './token-reuse.js';

/** The secret is missing from the environment: the service cannot sign in until someone sets it. */
export class MissingClientSecretError extends Error {
  constructor(account: string, variable: string) {
    super(`Account "${account}": the environment variable ${variable} (auth.clientSecretEnv) is not set or empty; it must hold the client secret.`);
    this.name = 'MissingClientSecretError';
  }
}

export interface ClientCredentialsProviderOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Where the secret named by clientSecretEnv is looked up; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Where the secret comes from when the config gives neither clientSecret nor clientSecretEnv:
   * the sealed secret store (`storedClientSecretSource`). Read when a token is first needed, and
   * again after Entra refuses the secret, so that `secret set` takes effect without a restart.
   */
  readonly secretSource?: () => Promise<string>;
  /** Told after each request to the identity provider (metrics: refreshes and failures). */
  readonly onTokenRequest?: TokenRequestObserver;
}

export class ClientCredentialsTokenProvider implements TokenProvider {
  private readonly accountName: string;
  private readonly scope: string;
  /** Built when the secret is known: at once from the config, or at the first request from secretSource. */
  private app: ConfidentialClientApplication | undefined;
  private readonly createApp: (clientSecret: string) => ConfidentialClientApplication;
  private readonly secretSource: (() => Promise<string>) | undefined;
  private readonly network: HttpsNetworkClient;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly reuse: TokenReuse;
  private readonly onTokenRequest: TokenRequestObserver | undefined;
  /** Entra's last error body; MSAL drops it when discovery fails. */
  private lastErrorBody: unknown;

  constructor(account: AccountConfig & { auth: ClientCredentialsAuth }, identity: Config['identity'], options: ClientCredentialsProviderOptions) {
    this.accountName = account.name;
    this.scope = account.auth.scope;
    this.logger = options.logger.child({ account: account.name, auth: 'client-credentials' });
    this.clock = options.clock;
    this.onTokenRequest = options.onTokenRequest;
    // Every request skips MSAL's cache, so a forced refresh may share one already on its way.
    this.reuse = new TokenReuse({ clock: options.clock, acquire: () => this.acquire(), everyRequestIsFresh: true });
    // A certificate account's "secret" is its private key: from privateKeyFile, else sealed (secret set).
    const { certificateFile, privateKeyFile } = account.auth;
    const keyFile = privateKeyFile === undefined ? undefined : async () => readPrivateKeyFile(account.name, privateKeyFile);
    const clientSecret = certificateFile === undefined ? resolveSecret(account.name, account.auth, options.env ?? process.env, options.secretSource !== undefined) : undefined;
    this.secretSource = clientSecret === undefined ? (keyFile ?? options.secretSource) : undefined;
    this.network = new HttpsNetworkClient({
      extraCaPem: identity.caFile === undefined ? undefined : readFileSync(identity.caFile, 'utf8'),
      onErrorResponse: (_url, _status, body) => {
        this.lastErrorBody = body;
      },
    });
    const credential = (secret: string) =>
      certificateFile === undefined
        ? { clientSecret: secret }
        : { clientCertificate: msalClientCertificate(account.name, readClientCertificate(account.name, certificateFile).pem, secret) };
    this.createApp = (secret) => new ConfidentialClientApplication({
      auth: { clientId: account.auth.clientId, ...credential(secret), ...msalAuthority(identity, account.auth.tenantId) },
      system: msalSystemOptions(this.network, this.logger),
    });
    if (clientSecret !== undefined) this.app = this.createApp(clientSecret);
  }

  getToken(options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.reuse.get(options.forceRefresh === true);
  }

  /**
   * The local half of a token request, for the daemon's start: reads the secret (or the
   * certificate's private key) and checks the certificate against it, as the first request
   * would, but asks Entra nothing, so MSAL stays unloaded (docs/performance.md, "Memory").
   * Throws what getToken would throw for a missing or unusable credential (a
   * SignInRequiredError: the account is held); a secret Entra refuses shows at the first
   * request instead. The credential is not kept: the first request reads it again, so that
   * `secret set` before it takes effect.
   */
  async checkCredential(): Promise<void> {
    if (this.app !== undefined) return;
    try {
      this.createApp(await this.readSecret());
    } catch (error) {
      if (error instanceof SignInRequiredError) this.logger.error({ aadsts: error.aadstsCode }, error.message);
      else this.logger.warn({ err: describe(error) }, 'the credential could not be read; the first token request tries again');
      throw error;
    }
  }

  /** Closes the network client's idle connections. */
  close(): void {
    this.network.destroy();
  }

  private async acquire(): Promise<AccessToken> {
    this.lastErrorBody = undefined;
    const startedAt = this.clock.now();
    let result: AuthenticationResult | null;
    try {
      this.app ??= this.createApp(await this.readSecret());
      // Our cache decides when a new token is due, so MSAL must not answer from its own.
      result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope], skipCache: true });
    } catch (error) {
      throw this.explain(error);
    }
    if (result === null || result.accessToken === '' || result.expiresOn === null) {
      throw new Error(`Account "${this.accountName}": the identity provider answered without an access token`);
    }
    // MSAL measures the lifetime on the wall clock; carry the remaining lifetime over to our clock.
    const lifetimeMs = Math.max(0, result.expiresOn.getTime() - Date.now());
    const token: AccessToken = { token: result.accessToken, expiresAt: startedAt + lifetimeMs };
    this.logger.info({ expiresAt: new Date(token.expiresAt).toISOString() }, 'app-only token acquired');
    this.onTokenRequest?.(this.accountName, { ok: true });
    return token;
  }

  private readSecret(): Promise<string> {
    if (this.secretSource === undefined) throw new Error(`Account "${this.accountName}": no client secret`);
    return this.secretSource();
  }

  private explain(error: unknown): unknown {
    const classified = classifyTokenError(error, this.accountName);
    const fromBody = classified instanceof SignInRequiredError ? undefined : classifyErrorBody(this.lastErrorBody, this.accountName);
    // A certificate error is named as such, not as MSAL's endpoints_resolution_error.
    const tls = this.network.takeTlsError();
    const final = fromBody ?? (classified instanceof SignInRequiredError ? classified : (tls ?? classified));
    this.onTokenRequest?.(this.accountName, { ok: false, error: final instanceof SignInRequiredError ? (final.aadstsCode ?? 'sign_in_required') : 'network' });
    if (final instanceof SignInRequiredError) {
      this.reuse.clear();
      // A refused stored secret may have been replaced since: read it again next time.
      if (this.secretSource !== undefined) this.app = undefined;
      this.logger.error({ aadsts: final.aadstsCode }, final.message);
    } else {
      this.logger.warn({ err: describe(final) }, 'token request failed; will retry');
    }
    return final;
  }
}

/** The secret from the config; undefined when it is left to the secret source. */
function resolveSecret(account: string, auth: ClientCredentialsAuth, env: NodeJS.ProcessEnv, hasSource: boolean): string | undefined {
  if (auth.clientSecretEnv !== undefined) {
    const value = env[auth.clientSecretEnv];
    if (value === undefined || value === '') throw new MissingClientSecretError(account, auth.clientSecretEnv);
    return value;
  }
  if (auth.clientSecret !== undefined) return auth.clientSecret;
  if (hasSource) return undefined;
  throw new Error(`Account "${account}": give auth.clientSecret or auth.clientSecretEnv, or store the secret with \`smtp-oauth-relay secret set --account ${account}\``);
}

/** Error name and message only: never the request (it carries the secret). */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
