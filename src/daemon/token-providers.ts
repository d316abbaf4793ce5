/**
 * Sign-in for every configured account: opens the key store when an account needs one (a
 * delegated account, or an app-only account whose secret is sealed rather than configured) and
 * builds one token provider per account. A relay whose secrets all come from the configuration
 * or the environment never touches the keychain.
 */
import { createTokenProvider, keyStoreWarning, openKeyStore, storedClientSecretSource, type ClosableTokenProvider, type KeyStore } from '../auth/index.js';
import type { Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';

export interface SignInParts {
  readonly providers: ReadonlyMap<string, ClosableTokenProvider>;
  /** Absent when no account needs one. */
  readonly keyStore: KeyStore | undefined;
  /** Said at every start and in status (a key kept in a file instead of the keychain). */
  readonly warnings: readonly string[];
}

export function needsKeyStore(account: AccountConfig): boolean {
  if (account.auth.method === 'delegated') return true;
  return account.auth.clientSecret === undefined && account.auth.clientSecretEnv === undefined;
}

/** Opens the key store the configuration asks for; throws KeychainUnavailableError when it cannot. */
export async function openConfiguredKeyStore(config: Config): Promise<KeyStore> {
  return openKeyStore({ dataDir: config.dataDir, keyStore: config.secrets.keyStore });
}

export async function createSignIn(config: Config, options: { logger: Logger; clock: Clock }): Promise<SignInParts> {
  const keyStore = config.accounts.some(needsKeyStore) ? await openConfiguredKeyStore(config) : undefined;
  const warning = keyStore === undefined ? undefined : keyStoreWarning(keyStore);
  if (warning !== undefined) options.logger.warn({ keyStore: keyStore?.description }, warning);

  const providers = new Map<string, ClosableTokenProvider>();
  for (const account of config.accounts) {
    const sealedSecret = keyStore !== undefined && account.auth.method === 'client-credentials' && needsKeyStore(account);
    providers.set(
      account.name,
      createTokenProvider(account, config.identity, {
        logger: options.logger,
        clock: options.clock,
        ...(sealedSecret ? { clientSecretSource: storedClientSecretSource(keyStore, config.dataDir, account.name, options.clock) } : {}),
      }),
    );
  }
  return { providers, keyStore, warnings: warning === undefined ? [] : [warning] };
}
