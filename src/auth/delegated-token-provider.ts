/**
 * Delegated tokens: a person signs in once as the mailbox (authorization code with PKCE in a
 * browser, or the device code flow on a server without one), and the relay keeps using the
 * refresh token MSAL holds in the account's sealed cache file.
 * Microsoft: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
 * and https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code (RFC 8628).
 *
 * MSAL hides the refresh token and its age, so this class records what the relay needs to know
 * (sign-in-state-store.ts): who signed in, when a refresh token was last issued or rotated (its
 * 90-day window), and why the last refresh failed. A refusal that only a person can cure puts
 * the account in "sign-in required": later requests fail here, without asking the identity
 * provider again, until someone signs in. Tokens are never deleted because a refresh failed.
 */
import { readFileSync } from 'node:fs';
import type { AccountInfo, AuthenticationResult } from '@azure/msal-node';
import { AuthError, PublicClientApplication } from './lazy-msal.js';
import type { Clock } from '../core/clock.js';
import type { AccountConfig, Config, DelegatedAuth } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { predictedRefreshExpiry, type RefreshFailure, type SignInState } from '../core/sign-in-state.js';
import { SignInRequiredError, type AccessToken } from '../core/token.js';
import type { ClosableTokenProvider } from './create-token-provider.js';
import { signInWithDeviceCode } from './device-code-sign-in.js';
import { classifyErrorBody, classifyTokenError } from './entra-errors.js';
import { HttpsNetworkClient } from './https-network-client.js';
import { loginFailure } from './login-failure.js';
import { SignInCancelledError, signInThroughLoopback } from './loopback-sign-in.js';
import { msalAuthority, msalSystemOptions } from './msal-options.js';
import { describe, SignInRecord } from './sign-in-record.js';
import { TokenCacheCorruptError } from './token-cache-plugin.js';
import type { DelegatedTokenProviderOptions, LoginOptions, LoginResult } from './delegated-types.js';
import { TokenReuse } from './token-reuse.js';

export type { DelegatedTokenProviderOptions, LoginOptions, LoginPrompt, LoginResult } from './delegated-types.js';

const SUCCESS_PAGE = 'Signed in to smtp-oauth-relay. You may close this window.';
const ERROR_PAGE = 'The sign-in for smtp-oauth-relay failed. Return to the command window for the reason.';

export class DelegatedTokenProvider implements ClosableTokenProvider {
  readonly accountName: string;
  private readonly mailbox: string;
  private readonly scopes: string[];
  private readonly app: PublicClientApplication;
  private readonly network: HttpsNetworkClient;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly options: DelegatedTokenProviderOptions;
  private readonly reuse: TokenReuse;
  private readonly signIn: SignInRecord;
  /** What a failed login's fix names: the app registration and the authority. */
  private readonly fixContext: { clientId: string; tenantId: string; authority: string };
  /** Entra's last error body; MSAL drops it when discovery fails. */
  private lastErrorBody: unknown;

  constructor(account: AccountConfig & { auth: DelegatedAuth }, identity: Config['identity'], options: DelegatedTokenProviderOptions) {
    this.accountName = account.name;
    this.mailbox = account.mailbox;
    this.scopes = [...account.auth.scopes];
    this.logger = options.logger.child({ account: account.name, auth: 'delegated' });
    this.clock = options.clock;
    this.options = options;
    this.signIn = new SignInRecord(options.dataDir, account, this.logger);
    this.fixContext = { clientId: account.auth.clientId, tenantId: account.auth.tenantId, authority: identity.authorityHost };
    // A silent request may be answered from MSAL's cache: a forced one must make its own.
    this.reuse = new TokenReuse({ clock: options.clock, acquire: (force) => this.acquire(force), everyRequestIsFresh: false });
    this.network = new HttpsNetworkClient({
      extraCaPem: identity.caFile === undefined ? undefined : readFileSync(identity.caFile, 'utf8'),
      onErrorResponse: (_url, _status, body) => {
        this.lastErrorBody = body;
      },
    });
    this.app = new PublicClientApplication({
      auth: { clientId: account.auth.clientId, ...msalAuthority(identity, account.auth.tenantId) },
      cache: { cachePlugin: options.cachePlugin },
      system: msalSystemOptions(this.network, this.logger),
    });
  }

  /** What is recorded about this account's sign-in (never a token). */
  state(): SignInState {
    return this.signIn.current;
  }

  getToken(options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.reuse.get(options.forceRefresh === true);
  }

  /** Signs a person in; afterwards the account's cache holds this one user only. */
  async login(options: LoginOptions): Promise<LoginResult> {
    options.signal?.throwIfAborted();
    const startedAt = this.clock.now();
    const result = await this.signInPerson(options);
    const signedIn = result?.account ?? null;
    if (result === null || signedIn === null || result.accessToken === '') {
      throw new Error(`Account "${this.accountName}": the identity provider answered the sign-in without an account or a token`);
    }
    await this.keepOnly(signedIn);

    const signedInAs = signedIn.username;
    const mailboxMatches = signedInAs.toLowerCase() === this.mailbox.toLowerCase();
    const now = this.clock.now();
    const refreshTokenExpiresAt = iso(predictedRefreshExpiry(now));
    this.reuse.clear();
    await this.signIn.record({
      version: 1,
      account: this.accountName,
      method: 'delegated',
      status: 'ok',
      signedInAs,
      mailboxMatches,
      refreshTokenIssuedAt: iso(now),
      refreshTokenExpiresAt,
      accessTokenExpiresAt: iso(expiryOnOurClock(result, startedAt)),
      lastRefreshAt: iso(now),
    });
    const message = mailboxMatches
      ? `Signed in as ${signedInAs}, the mailbox of account "${this.accountName}".`
      : `Signed in as ${signedInAs}, but account "${this.accountName}" sends as mailbox ${this.mailbox}: ` +
        `Exchange will refuse with 5.7.60 unless ${signedInAs} has Send As or Full Access on ${this.mailbox}.`;
    if (mailboxMatches) this.logger.info({ signedInAs, refreshTokenExpiresAt }, message);
    else this.logger.warn({ signedInAs, mailbox: this.mailbox, refreshTokenExpiresAt }, message);
    return { account: this.accountName, signedInAs, mailboxMatches, refreshTokenExpiresAt, message };
  }

  /** Removes the account's sign-in from MSAL's cache (the sealed file is rewritten without it). */
  async logout(): Promise<void> {
    const cache = this.app.getTokenCache();
    for (const account of await cache.getAllAccounts()) await cache.removeAccount(account);
    this.reuse.clear();
    await this.signIn.record({ version: 1, account: this.accountName, method: 'delegated', status: 'never-signed-in' });
    this.logger.info('signed out');
  }

  /** Closes the network client's idle connections. */
  close(): void {
    this.network.destroy();
  }

  private async acquire(forceRefresh: boolean): Promise<AccessToken> {
    if (this.signIn.current.status !== 'ok') await this.signIn.reread();
    if (this.signIn.current.status !== 'ok') throw this.refusedLocally();
    this.lastErrorBody = undefined;
    const startedAt = this.clock.now();
    let result: AuthenticationResult;
    try {
      const account = await this.cachedAccount();
      if (account === undefined) {
        throw await this.signInRequired({
          error: 'no_tokens_found',
          message: `Account "${this.accountName}": the token cache holds no sign-in${this.signIn.current.signedInAs === undefined ? '' : ` for ${this.signIn.current.signedInAs}`}; sign in again.`,
        });
      }
      result = await this.app.acquireTokenSilent({ account, scopes: this.scopes, forceRefresh });
    } catch (error) {
      throw await this.explain(error);
    }
    if (result.accessToken === '' || result.expiresOn === null) {
      throw new Error(`Account "${this.accountName}": the identity provider answered without an access token`);
    }
    const token: AccessToken = { token: result.accessToken, expiresAt: expiryOnOurClock(result, startedAt) };
    const now = this.clock.now();
    // fromCache false: MSAL went to the token endpoint, i.e. redeemed the refresh token, and
    // Entra answered with a new one (it rotates on every use): the 90-day window starts again.
    const redeemed = !result.fromCache;
    if (redeemed) this.options.onTokenRequest?.(this.accountName, { ok: true });
    await this.signIn.record({
      ...this.signIn.current,
      accessTokenExpiresAt: iso(token.expiresAt),
      lastRefreshAt: iso(now),
      lastRefreshError: undefined,
      ...(redeemed ? { refreshTokenIssuedAt: iso(now), refreshTokenExpiresAt: iso(predictedRefreshExpiry(now)) } : {}),
    });
    this.logger.info({ expiresAt: iso(token.expiresAt), refreshed: redeemed }, 'delegated token acquired');
    return token;
  }

  /** The MSAL account of the user who signed in for this relay account. */
  private async cachedAccount(): Promise<AccountInfo | undefined> {
    const accounts = await this.app.getTokenCache().getAllAccounts();
    const wanted = this.signIn.current.signedInAs?.toLowerCase();
    // The state file was lost or unreadable: one cached account is unambiguous.
    if (wanted === undefined) return accounts.length === 1 ? accounts[0] : undefined;
    return accounts.find((account) => account.username.toLowerCase() === wanted);
  }

  /** Turns a failure into what getToken throws, and records it. */
  private async explain(error: unknown): Promise<unknown> {
    if (error instanceof SignInRequiredError) return error;
    if (error instanceof TokenCacheCorruptError) {
      return this.signInRequired({ error: 'token_cache_corrupt', message: error.message }, error);
    }
    const classified = classifyTokenError(error, this.accountName);
    const fromBody = classified instanceof SignInRequiredError ? undefined : classifyErrorBody(this.lastErrorBody, this.accountName);
    // A certificate error is named as such, not as MSAL's endpoints_resolution_error.
    const tls = this.network.takeTlsError();
    const final = fromBody ?? (classified instanceof SignInRequiredError ? classified : (tls ?? classified));
    this.options.onTokenRequest?.(this.accountName, {
      ok: false,
      error: (final instanceof SignInRequiredError ? final.aadstsCode : undefined) ?? oauthError(error),
    });
    if (final instanceof SignInRequiredError) {
      return this.signInRequired({ error: oauthError(error), aadsts: final.aadstsCode, message: final.message }, final);
    }
    // Passing trouble (network, 5xx, throttling): the tokens stay, the caller retries.
    const failure: RefreshFailure = {
      at: iso(this.clock.now()),
      error: oauthError(error),
      message: `Account "${this.accountName}": the identity provider could not be reached or failed (${describe(final)}); retrying later.`,
    };
    this.logger.warn({ err: describe(final) }, 'token request failed; will retry');
    await this.signIn.record({ ...this.signIn.current, lastRefreshError: failure });
    return final;
  }

  /** Puts the account in "sign-in required" and tells the daemon once; returns the error to throw. */
  private async signInRequired(fields: Omit<RefreshFailure, 'at'>, cause?: Error): Promise<SignInRequiredError> {
    const failure: RefreshFailure = { at: iso(this.clock.now()), ...fields };
    const wasOk = this.signIn.current.status === 'ok';
    this.reuse.clear();
    await this.signIn.record({ ...this.signIn.current, status: 'sign-in-required', lastRefreshError: failure });
    this.logger.error({ error: failure.error, aadsts: failure.aadsts }, failure.message);
    if (wasOk) this.options.onSignInRequired?.(this.accountName, failure);
    return cause instanceof SignInRequiredError ? cause : new SignInRequiredError(failure.message, failure.aadsts, { cause });
  }

  private refusedLocally(): SignInRequiredError {
    const { status, lastRefreshError } = this.signIn.current;
    const why =
      status === 'never-signed-in'
        ? 'nobody has signed in yet'
        : `a sign-in is required${lastRefreshError === undefined ? '' : ` (${lastRefreshError.message})`}`;
    return new SignInRequiredError(
      `Account "${this.accountName}": ${why}. Run \`smtp-oauth-relay login --account ${this.accountName}\`.`,
      lastRefreshError?.aadsts,
    );
  }

  /**
   * Runs the chosen flow. A cancel is logged where it happens (the listener closes, polling
   * stops); a refusal becomes the catalogue's meaning and fix, logged without any token.
   */
  private async signInPerson(options: LoginOptions): Promise<AuthenticationResult | null> {
    const common = { app: this.app, scopes: this.scopes, signal: options.signal, logger: this.logger };
    this.network.takeTlsError();
    this.lastErrorBody = undefined;
    try {
      if (options.mode === 'device-code') {
        return await signInWithDeviceCode({ ...common, showCode: (code) => options.onPrompt({ kind: 'device-code', ...code }) });
      }
      return await signInThroughLoopback({
        ...common,
        // PKCE (S256) and the loopback redirect on 127.0.0.1; the caller shows the URL.
        showUrl: (url) => options.onPrompt({ kind: 'browser', url }),
        successPage: this.options.successTemplate ?? SUCCESS_PAGE,
        errorPage: this.options.errorTemplate ?? ERROR_PAGE,
      });
    } catch (error) {
      if (error instanceof SignInCancelledError || options.signal?.aborted === true) throw error;
      const evidence = { tls: this.network.takeTlsError(), errorBody: this.lastErrorBody };
      const failure = loginFailure(error, { account: this.accountName, mailbox: this.mailbox, ...this.fixContext }, evidence);
      this.logger.error({ condition: failure.condition.id, error: failure.error, aadsts: failure.aadsts }, failure.message);
      throw failure;
    }
  }

  /** One user per relay account: other users' tokens leave the cache after a sign-in. */
  private async keepOnly(signedIn: AccountInfo): Promise<void> {
    const cache = this.app.getTokenCache();
    for (const account of await cache.getAllAccounts()) {
      if (account.homeAccountId !== signedIn.homeAccountId) await cache.removeAccount(account);
    }
  }
}

/** MSAL measures the lifetime on the wall clock; carry the remaining lifetime over to our clock. */
function expiryOnOurClock(result: AuthenticationResult, startedAt: number): number {
  const lifetimeMs = result.expiresOn === null ? 0 : Math.max(0, result.expiresOn.getTime() - Date.now());
  return startedAt + lifetimeMs;
}

/** The OAuth error (RFC 6749 section 5.2) or MSAL's code; "network" when nothing answered. */
function oauthError(error: unknown): string {
  if (!(error instanceof AuthError)) return 'network';
  if (error.errorCode === 'network_error' || error.errorCode === 'endpoints_resolution_error') return 'network';
  return error.errorCode === '' ? 'unknown' : error.errorCode;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
