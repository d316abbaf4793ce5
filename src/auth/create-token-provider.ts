/**
 * The one entry point the daemon uses: a TokenProvider for an account, chosen by its auth method.
 */
import { systemClock, type Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { RefreshFailure } from '../core/sign-in-state.js';
import type { TokenProvider } from '../core/token.js';
import { ClientCredentialsTokenProvider } from './client-credentials-provider.js';
import { DelegatedTokenProvider } from './delegated-token-provider.js';
import type { KeyStore } from './key-store.js';
import { createTokenCachePlugin } from './token-cache-plugin.js';
import type { TokenRequestObserver } from './token-request-observer.js';

export interface TokenProviderOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Environment for auth.clientSecretEnv; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** Client secret of an app-only account whose config omits it: `storedClientSecretSource(...)`. */
  readonly clientSecretSource?: () => Promise<string>;
  /** Delegated accounts: the data folder (sealed token cache, recorded sign-in state). */
  readonly dataDir?: string;
  /** Delegated accounts: the key store that holds the key sealing the account's token cache (`openKeyStore`). */
  readonly keyStore?: KeyStore;
  /** Delegated accounts: called once when the account goes to "sign-in required" (hold its queue, raise the alert). */
  readonly onSignInRequired?: (account: string, failure: RefreshFailure) => void;
  /** Told after each request to the identity provider (metrics: refreshes and failures). */
  readonly onTokenRequest?: TokenRequestObserver;
}

/** A provider that also releases its network resources when the daemon stops. */
export interface ClosableTokenProvider extends TokenProvider {
  close(): void;
}

export function createTokenProvider(account: AccountConfig, identity: Config['identity'], options: TokenProviderOptions): ClosableTokenProvider {
  const clock = options.clock ?? systemClock;
  const { auth } = account;
  switch (auth.method) {
    case 'client-credentials':
      return new ClientCredentialsTokenProvider({ ...account, auth }, identity, {
        logger: options.logger,
        clock,
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.clientSecretSource === undefined ? {} : { secretSource: options.clientSecretSource }),
        ...(options.onTokenRequest === undefined ? {} : { onTokenRequest: options.onTokenRequest }),
      });
    case 'delegated': {
      const { dataDir, keyStore } = options;
      if (dataDir === undefined || keyStore === undefined) {
        throw new Error(`Account "${account.name}": delegated sign-in needs the data folder and the key store`);
      }
      return new DelegatedTokenProvider({ ...account, auth }, identity, {
        logger: options.logger,
        clock,
        dataDir,
        cachePlugin: createTokenCachePlugin({ store: keyStore, dataDir, account: account.name, clock }),
        ...(options.onSignInRequired === undefined ? {} : { onSignInRequired: options.onSignInRequired }),
        ...(options.onTokenRequest === undefined ? {} : { onTokenRequest: options.onTokenRequest }),
      });
    }
  }
}
