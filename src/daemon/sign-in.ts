/**
 * Sign-in for every configured account, as the daemon runs it: the key store (opened only when
 * an account needs one), one token provider per account, the keep-alive of each delegated
 * account, and login/logout on behalf of the CLI. When a person must sign in again, it tells
 * the daemon (hold the queue, raise the alert); after a login it lifts the hold.
 */
import {
  createTokenProvider,
  DelegatedTokenProvider,
  KeepAlive,
  keyStoreWarning,
  listSignInStates,
  openKeyStore,
  storedClientSecretSource,
  type ClosableTokenProvider,
  type KeyStore,
  type LoginPrompt,
  type LoginResult,
  type TokenProviderOptions,
  type TokenRequestObserver,
} from '../auth/index.js';
import type { Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { RefreshFailure, SignInState } from '../core/sign-in-state.js';
import type { SignInInfo } from './relay-status.js';

/** What sign-in needs from the rest of the daemon, bound once the scheduler and alerts exist. */
export interface SignInHooks {
  /** A person must sign in: hold the account's queue. */
  hold(account: string, reason: string): void;
  /** Sign-in works again: send what waited. */
  release(account: string): void;
  /** Something changed that may warrant a warning now. */
  alert(): void;
}

export function needsKeyStore(account: AccountConfig): boolean {
  if (account.auth.method === 'delegated') return true;
  // A certificate's private key in privateKeyFile needs no key store; one sealed by `secret set` does.
  return account.auth.clientSecret === undefined && account.auth.clientSecretEnv === undefined && account.auth.privateKeyFile === undefined;
}

/**
 * An account's token provider as the daemon builds it (doctor builds the same): the key store for
 * a delegated account's sealed cache, and a sealed client secret when the config has none.
 */
export function buildTokenProvider(
  config: Config,
  account: AccountConfig,
  keyStore: KeyStore | undefined,
  options: Omit<TokenProviderOptions, 'dataDir' | 'keyStore' | 'clientSecretSource'> & { clock: Clock },
): ClosableTokenProvider {
  const sealedSecret = keyStore !== undefined && account.auth.method === 'client-credentials' && needsKeyStore(account);
  return createTokenProvider(account, config.identity, {
    ...options,
    dataDir: config.dataDir,
    ...(keyStore === undefined ? {} : { keyStore }),
    ...(sealedSecret ? { clientSecretSource: storedClientSecretSource(keyStore, config.dataDir, account.name, options.clock) } : {}),
  });
}

/** Opens the key store the configuration asks for; throws KeychainUnavailableError when it cannot. */
export function openConfiguredKeyStore(config: Config): Promise<KeyStore> {
  return openKeyStore({ dataDir: config.dataDir, keyStore: config.secrets.keyStore });
}

export class SignIn {
  private hooks: SignInHooks | undefined;
  private readonly keepAlives = new Map<string, KeepAlive>();

  private constructor(
    private readonly config: Config,
    readonly providers: ReadonlyMap<string, ClosableTokenProvider>,
    readonly keyStore: KeyStore | undefined,
    /** Said at every start and in status (a key kept in a file instead of the keychain). */
    readonly warnings: readonly string[],
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  static async create(config: Config, options: { logger: Logger; clock: Clock; onTokenRequest?: TokenRequestObserver }): Promise<SignIn> {
    const keyStore = config.accounts.some(needsKeyStore) ? await openConfiguredKeyStore(config) : undefined;
    const warning = keyStore === undefined ? undefined : keyStoreWarning(keyStore);
    if (warning !== undefined) options.logger.warn({ keyStore: keyStore?.description }, warning);

    let signIn: SignIn | undefined;
    const providers = new Map<string, ClosableTokenProvider>();
    for (const account of config.accounts) {
      providers.set(
        account.name,
        buildTokenProvider(config, account, keyStore, {
          logger: options.logger,
          clock: options.clock,
          onSignInRequired: (name, failure) => signIn?.signInRequired(name, failure),
          ...(options.onTokenRequest === undefined ? {} : { onTokenRequest: options.onTokenRequest }),
        }),
      );
    }
    signIn = new SignIn(config, providers, keyStore, warning === undefined ? [] : [warning], options.logger, options.clock);
    return signIn;
  }

  /** Starts the keep-alives; `hooks` reach the scheduler and the alerts. */
  start(hooks: SignInHooks): void {
    this.hooks = hooks;
    for (const account of this.config.accounts) {
      const provider = this.providers.get(account.name);
      if (account.auth.method !== 'delegated' || !(provider instanceof DelegatedTokenProvider)) continue;
      // An account that never signed in, or must sign in again, waits for `login`.
      if (provider.state().status !== 'ok') hooks.hold(account.name, signInReason(provider.state()));
      const keepAlive = new KeepAlive({ target: provider, clock: this.clock, logger: this.logger, intervalHours: account.auth.keepAliveHours });
      keepAlive.start();
      this.keepAlives.set(account.name, keepAlive);
    }
  }

  /** Runs the sign-in of a delegated account; the prompt goes to whoever asked (the CLI). */
  async login(name: string, mode: 'browser' | 'device-code', onPrompt: (prompt: LoginPrompt) => Promise<void> | void, signal?: AbortSignal): Promise<LoginResult> {
    const provider = this.delegated(name);
    const result = await provider.login({ mode, onPrompt, ...(signal === undefined ? {} : { signal }) });
    this.logger.info({ account: name, signedInAs: result.signedInAs, mailboxMatches: result.mailboxMatches, refreshTokenExpiresAt: result.refreshTokenExpiresAt }, 'signed in');
    this.keepAlives.get(name)?.resume();
    this.hooks?.release(name);
    this.hooks?.alert();
    return result;
  }

  async logout(name: string): Promise<void> {
    await this.delegated(name).logout();
    this.logger.info({ account: name }, 'signed out; tokens removed');
    this.hooks?.hold(name, 'signed out: sign in with smtp-oauth-relay login');
  }

  /** When each delegated account's keep-alive runs next (for `status`). */
  keepAliveInfo(): SignInInfo[] {
    return [...this.keepAlives.entries()].map(([account, keepAlive]) => {
      const next = keepAlive.nextRunAt;
      return { account, keepAlive: { phase: keepAlive.phase, ...(next === undefined ? {} : { nextRunAt: new Date(next).toISOString() }) } };
    });
  }

  /** The recorded sign-in state of every account (app-only accounts: what their provider knows). */
  states(): Promise<SignInState[]> {
    return listSignInStates(this.config.dataDir, this.config.accounts);
  }

  /** Stops the keep-alives, lets a refresh under way finish, then closes the providers. */
  async stop(): Promise<void> {
    for (const keepAlive of this.keepAlives.values()) keepAlive.stop();
    await Promise.all([...this.keepAlives.values()].map((keepAlive) => keepAlive.idle()));
    for (const provider of this.providers.values()) provider.close();
  }

  private signInRequired(name: string, failure: RefreshFailure): void {
    this.logger.error({ account: name, error: failure.error, aadsts: failure.aadsts }, `sign-in required: ${failure.message}`);
    this.hooks?.hold(name, `sign-in required: ${failure.aadsts ?? failure.error}: ${failure.message}`);
    this.hooks?.alert();
  }

  private delegated(name: string): DelegatedTokenProvider {
    const account = this.config.accounts.find((candidate) => candidate.name === name);
    if (account === undefined) throw new Error(`No account named "${name}" in the configuration`);
    const provider = this.providers.get(name);
    if (!(provider instanceof DelegatedTokenProvider)) {
      throw new Error(`Account "${name}" signs in app-only (client credentials): use "smtp-oauth-relay secret set --account ${name}"`);
    }
    return provider;
  }
}

function signInReason(state: SignInState): string {
  if (state.status === 'never-signed-in') return 'never signed in: run smtp-oauth-relay login';
  return `sign-in required: ${state.lastRefreshError?.aadsts ?? state.lastRefreshError?.error ?? 'unknown'}: ${state.lastRefreshError?.message ?? 'sign in again'}`;
}
