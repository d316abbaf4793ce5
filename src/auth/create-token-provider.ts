/**
 * The one entry point the daemon uses: a TokenProvider for an account, chosen by its auth method.
 */
import { systemClock, type Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { TokenProvider } from '../core/token.js';
import { ClientCredentialsTokenProvider } from './client-credentials-provider.js';

export interface TokenProviderOptions {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Environment for auth.clientSecretEnv; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** Client secret of an app-only account whose config omits it: `storedClientSecretSource(...)`. */
  readonly clientSecretSource?: () => Promise<string>;
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
      });
    case 'delegated':
      throw new Error(`Account ${account.name}: delegated sign-in is not available in this build yet`);
  }
}
