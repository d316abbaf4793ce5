/**
 * Client secrets of app-only accounts, sealed like the token cache
 * (`<dataDir>/secrets/<account>.client-secret.sealed`, with a key of their own), so the config
 * file may leave them out. Set with `smtp-oauth-relay secret set --account NAME`, which reads
 * the secret from stdin: never from argv, which other users can see in the process list.
 */
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../core/clock.js';
import { fsyncDirectory } from '../core/durable-fs.js';
import { SignInRequiredError } from '../core/token.js';
import type { KeyStore } from './key-store.js';
import { keyFor } from './open-key-store.js';
import { SealedFile, SealedFileCorruptError } from './sealed-file.js';
import { dataPaths } from '../core/data-paths.js';

/** No secret in the config and none stored: an administrator must store one. */
export class ClientSecretNotStoredError extends SignInRequiredError {
  constructor(account: string) {
    super(
      `Account "${account}": no client secret is configured or stored; ` +
        `store one with \`smtp-oauth-relay secret set --account ${account}\` (the secret is read from stdin).`,
    );
    this.name = 'ClientSecretNotStoredError';
  }
}

/** The stored secret did not decrypt; it was set aside, and a new one must be stored. */
export class ClientSecretCorruptError extends SignInRequiredError {
  readonly movedTo: string;

  constructor(account: string, corrupt: SealedFileCorruptError) {
    super(
      `Account "${account}": the stored client secret could not be decrypted (${corrupt.reason}); it was moved to ${corrupt.movedTo}. ` +
        `Store it again with \`smtp-oauth-relay secret set --account ${account}\`.`,
      undefined,
      { cause: corrupt },
    );
    this.name = 'ClientSecretCorruptError';
    this.movedTo = corrupt.movedTo;
  }
}

export function clientSecretPath(dataDir: string, account: string): string {
  return dataPaths(dataDir).clientSecret(account);
}

function clientSecretKeyName(account: string): string {
  return `client-secret.${account}`;
}

function secretFile(store: KeyStore, dataDir: string, account: string, clock?: Clock): SealedFile {
  return new SealedFile({
    path: clientSecretPath(dataDir, account),
    purpose: `client-secret:${account}`,
    key: () => keyFor(store, clientSecretKeyName(account)),
    ...(clock === undefined ? {} : { clock }),
  });
}

export async function storeClientSecret(store: KeyStore, dataDir: string, account: string, secret: string): Promise<void> {
  if (secret === '') throw new Error('refusing to store an empty client secret');
  await secretFile(store, dataDir, account).write(Buffer.from(secret, 'utf8'));
}

/**
 * The stored secret, or undefined when none is stored. Throws SealedFileCorruptError (the file
 * moved aside) when it does not decrypt.
 */
export async function loadClientSecret(store: KeyStore, dataDir: string, account: string, clock?: Clock): Promise<string | undefined> {
  const data = await secretFile(store, dataDir, account, clock).read();
  return data?.toString('utf8');
}

/** Removes the stored secret and its key; no error when none was stored. */
export async function deleteClientSecret(store: KeyStore, dataDir: string, account: string): Promise<void> {
  const path = clientSecretPath(dataDir, account);
  await rm(path, { force: true });
  await fsyncDirectory(dirname(path)).catch(() => undefined);
  await store.deleteKey(clientSecretKeyName(account));
}

/**
 * For ClientCredentialsTokenProvider's `secretSource`: the stored secret, or
 * ClientSecretNotStoredError (a SignInRequiredError: the account's queue is held, not retried).
 */
export function storedClientSecretSource(store: KeyStore, dataDir: string, account: string, clock?: Clock): () => Promise<string> {
  return async () => {
    let secret: string | undefined;
    try {
      secret = await loadClientSecret(store, dataDir, account, clock);
    } catch (error) {
      if (error instanceof SealedFileCorruptError) throw new ClientSecretCorruptError(account, error);
      throw error;
    }
    if (secret === undefined) throw new ClientSecretNotStoredError(account);
    return secret;
  };
}
