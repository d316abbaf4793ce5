/**
 * Where the 32-byte keys that seal the token cache and client secrets live.
 *
 * Only keys go in a key store, never the sealed data itself: Windows Credential Manager holds
 * at most 2,560 bytes per credential (CRED_MAX_CREDENTIAL_BLOB_SIZE), less than an MSAL cache.
 * https://learn.microsoft.com/windows/win32/api/wincred/ns-wincred-credentiala
 */
export interface KeyStore {
  /** 'keychain' for the operating system's store; 'file' for the weaker key file chosen in the config. */
  readonly kind: 'keychain' | 'file';
  /** For logs and `status`: where the keys are, and for a file store, that it is weaker. */
  readonly description: string;
  /** The key saved under `name`, or undefined when there is none. */
  getKey(name: string): Promise<Buffer | undefined>;
  setKey(name: string, key: Buffer): Promise<void>;
  /** Removes the key; no error when there was none. */
  deleteKey(name: string): Promise<void>;
}

/** AES-256 takes a 256-bit key. */
export const KEY_BYTES = 32;

/**
 * Key names become file names (FileKeyStore) and credential names (keychain): letters, digits,
 * dot, dash and underscore keep them valid on Windows, macOS and Linux alike.
 */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function assertKeyName(name: string): void {
  if (!KEY_NAME.test(name)) throw new Error(`invalid key name "${name}": use letters, digits, ".", "-" and "_"`);
}

export function assertKeyLength(name: string, key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`key "${name}" has ${key.length} bytes; expected ${KEY_BYTES}`);
}
