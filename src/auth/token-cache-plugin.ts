/**
 * MSAL's token cache kept in a sealed file per account (`<dataDir>/tokens/<account>.msal.sealed`),
 * through MSAL's persistence hook (ICachePlugin): MSAL calls beforeCacheAccess before it reads
 * or changes its cache and afterCacheAccess after.
 * https://learn.microsoft.com/entra/msal/javascript/node/caching
 *
 * The cache holds the refresh token, the key to the 90-day sign-in: it is sealed with the
 * account's own key from the key store and never written in plain text.
 */
import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import type { Clock } from '../core/clock.js';
import type { KeyStore } from './key-store.js';
import { keyFor } from './open-key-store.js';
import { SealedFile, SealedFileCorruptError } from './sealed-file.js';
import { dataPaths } from '../core/data-paths.js';

/** The account's token cache could not be decrypted; the file was kept aside at `movedTo`. */
export class TokenCacheCorruptError extends Error {
  readonly account: string;
  readonly movedTo: string;

  constructor(account: string, corrupt: SealedFileCorruptError) {
    super(
      `The token cache of account "${account}" could not be decrypted (${corrupt.reason}); ` +
        `it was moved to ${corrupt.movedTo}. Sign in again with \`smtp-oauth-relay login --account ${account}\`.`,
      { cause: corrupt },
    );
    this.name = 'TokenCacheCorruptError';
    this.account = account;
    this.movedTo = corrupt.movedTo;
  }
}

export function tokenCachePath(dataDir: string, account: string): string {
  return dataPaths(dataDir).tokenCache(account);
}

/** Name of the account's token-cache key in the key store. */
export function tokenCacheKeyName(account: string): string {
  return `token-cache.${account}`;
}

export class SealedTokenCachePlugin implements ICachePlugin {
  readonly account: string;
  private readonly file: SealedFile;

  constructor(account: string, file: SealedFile) {
    this.account = account;
    this.file = file;
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    let data: Buffer | undefined;
    try {
      data = await this.file.read();
    } catch (error) {
      // The unreadable file is already set aside; MSAL starts from an empty cache next time.
      if (error instanceof SealedFileCorruptError) throw new TokenCacheCorruptError(this.account, error);
      throw error;
    }
    if (data !== undefined) context.tokenCache.deserialize(data.toString('utf8'));
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    await this.file.write(Buffer.from(context.tokenCache.serialize(), 'utf8'));
  }
}

export interface TokenCachePluginOptions {
  readonly store: KeyStore;
  readonly dataDir: string;
  readonly account: string;
  readonly clock?: Clock;
}

/** The cache plugin for an account: `new PublicClientApplication({ ..., cache: { cachePlugin } })`. */
export function createTokenCachePlugin(options: TokenCachePluginOptions): SealedTokenCachePlugin {
  const { store, dataDir, account } = options;
  const file = new SealedFile({
    path: tokenCachePath(dataDir, account),
    purpose: `msal-cache:${account}`,
    key: () => keyFor(store, tokenCacheKeyName(account)),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  return new SealedTokenCachePlugin(account, file);
}
