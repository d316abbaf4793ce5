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
import type { AccountInfo, AuthenticationResult, DeviceCodeRequest, ICachePlugin } from '@azure/msal-node';
import { AuthError, PublicClientApplication } from './lazy-msal.js';
import type { Clock } from '../core/clock.js';
import type { AccountConfig, Config, DelegatedAuth } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { predictedRefreshExpiry, type RefreshFailure, type SignInState } from '../core/sign-in-state.js';
import { SignInRequiredError, type AccessToken } from '../core/token.js';
import type { ClosableTokenProvider } from './create-token-provider.js';
import { classifyErrorBody, classifyTokenError } from './entra-errors.js';
import { HttpsNetworkClient } from './https-network-client.js';
import { msalAuthority, msalSystemOptions } from './msal-options.js';
import { readSignInState, readSignInStateSync, SignInStateCorruptError, writeSignInState } from './sign-in-state-store.js';
import { TokenCacheCorruptError } from './token-cache-plugin.js';
import type { TokenRequestObserver } from './token-request-observer.js';
import { TokenReuse } from './token-reuse.js';

/** What the person signing in must be shown: a URL to open, or a code to enter. */
export type LoginPrompt =
  | { readonly kind: 'browser'; readonly url: string }
  | { readonly kind: 'device-code'; readonly userCode: string; readonly verificationUri: string; readonly message: string };

export interface LoginOptions {
  /** 'browser': authorization code with PKCE (MSAL runs the loopback redirect on 127.0.0.1); 'device-code': RFC 8628. */
  readonly mode: 'browser' | 'device-code';
  /**
   * Shows the prompt: opens a browser or prints the URL (browser), or prints the code and the
   * address (device code). For 'browser', resolve once the URL is handed over: MSAL waits for
   * the redirect after that.
   */
  readonly onPrompt: (prompt: LoginPrompt) => Promise<void> | void;
  /** Gives up waiting for the person (e.g. Ctrl+C, or the control client went away). */
  readonly signal?: AbortSignal;
}

export interface LoginResult {
  readonly account: string;
  /** The user who signed in (preferred_username). */
  readonly signedInAs: string;
  /** Whether that user is the account's mailbox (case-insensitive). */
  readonly mailboxMatches: boolean;
  /** When the sign-in lapses unless the relay refreshes it before (ISO 8601). */
  readonly refreshTokenExpiresAt: string;
  /** One sentence for the person who signed in: who they are and whether that can send as the mailbox. */
  readonly message: string;
}

export interface DelegatedTokenProviderOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Where the sign-in state is recorded (`<dataDir>/state/sign-in/<account>.json`). */
  readonly dataDir: string;
  /** MSAL's persistence: the account's sealed cache file (`createTokenCachePlugin`). */
  readonly cachePlugin: ICachePlugin;
  /**
   * Called once each time the account goes from working to "sign-in required" (not for the
   * local refusals that follow): the daemon holds the account's queue and raises the alert.
   */
  readonly onSignInRequired?: (account: string, failure: RefreshFailure) => void;
  /** Told after each request to the identity provider (metrics: refreshes and failures). */
  readonly onTokenRequest?: TokenRequestObserver;
  /** The pages MSAL's loopback server shows in the browser after the redirect. */
  readonly successTemplate?: string;
  readonly errorTemplate?: string;
}

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
  private readonly dataDir: string;
  private readonly options: DelegatedTokenProviderOptions;
  private readonly reuse: TokenReuse;
  private current: SignInState;
  /** State writes in order, so the file never goes back to an older state. */
  private writes: Promise<void> = Promise.resolve();
  /** Entra's last error body; MSAL drops it when discovery fails. */
  private lastErrorBody: unknown;

  constructor(account: AccountConfig & { auth: DelegatedAuth }, identity: Config['identity'], options: DelegatedTokenProviderOptions) {
    this.accountName = account.name;
    this.mailbox = account.mailbox;
    this.scopes = [...account.auth.scopes];
    this.logger = options.logger.child({ account: account.name, auth: 'delegated' });
    this.clock = options.clock;
    this.dataDir = options.dataDir;
    this.options = options;
    this.current = this.loadState(account);
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
    return this.current;
  }

  getToken(options: { forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.reuse.get(options.forceRefresh === true);
  }

  /** Signs a person in; afterwards the account's cache holds this one user only. */
  async login(options: LoginOptions): Promise<LoginResult> {
    options.signal?.throwIfAborted();
    const startedAt = this.clock.now();
    const result = options.mode === 'browser' ? await this.loginInBrowser(options) : await this.loginWithDeviceCode(options);
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
    await this.record({
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
    await this.record({ version: 1, account: this.accountName, method: 'delegated', status: 'never-signed-in' });
    this.logger.info('signed out');
  }

  /** Closes the network client's idle connections. */
  close(): void {
    this.network.destroy();
  }

  private async acquire(forceRefresh: boolean): Promise<AccessToken> {
    if (this.current.status !== 'ok') await this.rereadState();
    if (this.current.status !== 'ok') throw this.refusedLocally();
    this.lastErrorBody = undefined;
    const startedAt = this.clock.now();
    let result: AuthenticationResult;
    try {
      const account = await this.cachedAccount();
      if (account === undefined) {
        throw await this.signInRequired({
          error: 'no_tokens_found',
          message: `Account "${this.accountName}": the token cache holds no sign-in${this.current.signedInAs === undefined ? '' : ` for ${this.current.signedInAs}`}; sign in again.`,
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
    await this.record({
      ...this.current,
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
    const wanted = this.current.signedInAs?.toLowerCase();
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
    await this.record({ ...this.current, lastRefreshError: failure });
    return final;
  }

  /** Puts the account in "sign-in required" and tells the daemon once; returns the error to throw. */
  private async signInRequired(fields: Omit<RefreshFailure, 'at'>, cause?: Error): Promise<SignInRequiredError> {
    const failure: RefreshFailure = { at: iso(this.clock.now()), ...fields };
    const wasOk = this.current.status === 'ok';
    this.reuse.clear();
    await this.record({ ...this.current, status: 'sign-in-required', lastRefreshError: failure });
    this.logger.error({ error: failure.error, aadsts: failure.aadsts }, failure.message);
    if (wasOk) this.options.onSignInRequired?.(this.accountName, failure);
    return cause instanceof SignInRequiredError ? cause : new SignInRequiredError(failure.message, failure.aadsts, { cause });
  }

  private refusedLocally(): SignInRequiredError {
    const { status, lastRefreshError } = this.current;
    const why =
      status === 'never-signed-in'
        ? 'nobody has signed in yet'
        : `a sign-in is required${lastRefreshError === undefined ? '' : ` (${lastRefreshError.message})`}`;
    return new SignInRequiredError(
      `Account "${this.accountName}": ${why}. Run \`smtp-oauth-relay login --account ${this.accountName}\`.`,
      lastRefreshError?.aadsts,
    );
  }

  private async loginInBrowser(options: LoginOptions): Promise<AuthenticationResult> {
    const attempt = this.app.acquireTokenInteractive({
      scopes: this.scopes,
      // PKCE (S256) and the loopback redirect on 127.0.0.1 are MSAL's; the caller shows the URL.
      openBrowser: async (url) => {
        await options.onPrompt({ kind: 'browser', url });
      },
      successTemplate: this.options.successTemplate ?? SUCCESS_PAGE,
      errorTemplate: this.options.errorTemplate ?? ERROR_PAGE,
    });
    // MSAL offers no way to stop its loopback listener: an abort stops waiting for it.
    return options.signal === undefined ? attempt : raceAbort(attempt, options.signal);
  }

  private async loginWithDeviceCode(options: LoginOptions): Promise<AuthenticationResult | null> {
    const request: DeviceCodeRequest = {
      scopes: this.scopes,
      deviceCodeCallback: (response) => {
        void Promise.resolve(
          options.onPrompt({ kind: 'device-code', userCode: response.userCode, verificationUri: response.verificationUri, message: response.message }),
        ).catch((error: unknown) => this.logger.warn({ err: describe(error) }, 'showing the device code failed'));
      },
    };
    // MSAL checks `cancel` between polls and then ends with device_code_polling_cancelled.
    const cancel = (): void => {
      request.cancel = true;
    };
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await this.app.acquireTokenByDeviceCode(request);
    } finally {
      options.signal?.removeEventListener('abort', cancel);
    }
  }

  /** One user per relay account: other users' tokens leave the cache after a sign-in. */
  private async keepOnly(signedIn: AccountInfo): Promise<void> {
    const cache = this.app.getTokenCache();
    for (const account of await cache.getAllAccounts()) {
      if (account.homeAccountId !== signedIn.homeAccountId) await cache.removeAccount(account);
    }
  }

  private loadState(account: AccountConfig): SignInState {
    try {
      return readSignInStateSync(this.dataDir, account);
    } catch (error) {
      if (!(error instanceof SignInStateCorruptError)) throw error;
      // The cache decides: one signed-in user in it is used, none means sign in.
      this.logger.warn({ path: error.path }, error.message);
      return { version: 1, account: account.name, method: 'delegated', status: 'ok' };
    }
  }

  /** A login by another process (the CLI while the daemon was down) shows in the file. */
  private async rereadState(): Promise<void> {
    try {
      const onDisk = await readSignInState(this.dataDir, { name: this.accountName, auth: { method: 'delegated' } });
      if (onDisk.status === 'ok') this.current = onDisk;
    } catch (error) {
      this.logger.debug({ err: describe(error) }, 'sign-in state file unreadable');
    }
  }

  private async record(next: SignInState): Promise<void> {
    this.current = next;
    const write = this.writes.then(() => writeSignInState(this.dataDir, next));
    // A failed write must not fail the sign-in itself: the state is in memory and written next time.
    this.writes = write.catch((error: unknown) => {
      this.logger.error({ err: describe(error) }, 'could not record the sign-in state');
    });
    await this.writes;
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

function raceAbort<T>(attempt: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('sign-in cancelled'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    attempt.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Error name and message only: never a request (it carries codes and tokens). */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
