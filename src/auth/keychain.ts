/**
 * The operating system's credential store through @napi-rs/keyring: Windows Credential Manager,
 * the macOS Keychain, and on Linux the Secret Service (gnome-keyring, KWallet...).
 *
 * On Linux the entry is pinned to the Secret Service: left to itself the library falls back
 * silently to the kernel keyring (keyutils), which forgets everything at reboot.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AsyncEntry, EntryOptions } from '@napi-rs/keyring';
import { assertKeyLength, assertKeyName, type KeyStore } from './key-store.js';
import { EXIT_UNAVAILABLE } from '../core/errors.js';
import { canonicalPath } from '../core/path-identity.js';

/** The credential's service name: what an administrator sees in Credential Manager or Seahorse. */
export const KEYCHAIN_SERVICE = 'smtp-oauth-relay';

const ENTRY_OPTIONS: EntryOptions = { linux: { store: 'secret-service' } };

/** What to do when no keychain works, per platform; part of KeychainUnavailableError's message. */
export function keychainAdvice(platform: NodeJS.Platform = process.platform): string {
  const fileChoice =
    'Or, knowingly, set "secrets": { "keyStore": "file" } in the config to keep the key in a file ' +
    'readable only by this account (mode 0600) in the data folder: weaker than a keychain, and warned at every start.';
  switch (platform) {
    case 'linux':
      return (
        'Install and unlock a Secret Service (for example gnome-keyring: apt-get install gnome-keyring), ' +
        'and run the relay in a user session with a DBus session bus (DBUS_SESSION_BUS_ADDRESS set), ' +
        'e.g. as a systemd user service of an account whose keyring is unlocked at login. ' +
        fileChoice
      );
    case 'win32':
      return (
        'Run the service as a user account that has a Windows Credential Manager store ' +
        '(not LocalSystem without a profile), and sign in with that same account. ' +
        fileChoice
      );
    case 'darwin':
      return 'Run the relay as a user whose login keychain is unlocked (a LaunchAgent, not a LaunchDaemon as root). ' + fileChoice;
    default:
      return fileChoice;
  }
}

/** No usable keychain: says why (the store's own error) and what to do about it. */
export class KeychainUnavailableError extends Error {
  readonly reason: string;
  /** The process exits with EX_UNAVAILABLE: the machine lacks something, the config may be right. */
  readonly exitCode = EXIT_UNAVAILABLE;

  constructor(reason: string, options?: { cause?: unknown; platform?: NodeJS.Platform }) {
    super(`No usable OS keychain to keep the relay's keys: ${reason}. ${keychainAdvice(options?.platform)}`, options);
    this.name = 'KeychainUnavailableError';
    this.reason = reason;
  }
}

/**
 * Two relays on one machine (two data folders) must not share keys: entry names start with
 * a digest of the data folder's path, in its one canonical spelling, so that `c:\ProgramData\x`
 * typed by an administrator and `C:\PROGRAMDATA\X\` in the service's configuration reach the
 * same keys (on POSIX the digest is of the resolved path, as before).
 */
export function keychainEntryName(dataDir: string, name: string, platform: NodeJS.Platform = process.platform): string {
  const folder = createHash('sha256').update(canonicalPath(dataDir, platform)).digest('hex').slice(0, 16);
  return `${folder}:${name}`;
}

export class KeychainKeyStore implements KeyStore {
  readonly kind = 'keychain';
  readonly description: string;
  private readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.description = `OS keychain (${keychainName()}), service "${KEYCHAIN_SERVICE}"`;
  }

  async getKey(name: string): Promise<Buffer | undefined> {
    const value = await (await this.entry(name)).getPassword();
    if (value === null) return undefined;
    const key = Buffer.from(value, 'base64');
    assertKeyLength(name, key);
    return key;
  }

  async setKey(name: string, key: Buffer): Promise<void> {
    assertKeyLength(name, key);
    await (await this.entry(name)).setPassword(key.toString('base64'));
  }

  async deleteKey(name: string): Promise<void> {
    await (await this.entry(name)).deletePassword();
  }

  private entry(name: string): Promise<AsyncEntry> {
    assertKeyName(name);
    return keychainEntry(keychainEntryName(this.dataDir, name));
  }
}

/**
 * Whether the keychain can really keep a value: writes, reads back and deletes a probe.
 * A read alone proves nothing: getPassword answers null even when the store is locked or absent.
 */
export async function probeKeychain(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const value = randomBytes(16).toString('base64');
  try {
    const entry = await keychainEntry(`probe:${process.pid}:${randomBytes(4).toString('hex')}`);
    await entry.setPassword(value);
    try {
      const readBack = await entry.getPassword();
      if (readBack !== value) return { ok: false, reason: 'a value written to the keychain could not be read back' };
    } finally {
      await entry.deletePassword().catch(() => undefined);
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: explainKeychainError(error) };
  }
}

async function keychainEntry(account: string): Promise<AsyncEntry> {
  // Loaded on first use: the native addon adds about 11 MiB to a relay whose accounts never
  // need the keychain (docs/performance.md, "Memory").
  const { AsyncEntry } = await import('@napi-rs/keyring');
  // The constructor already throws on Linux when no session bus can be reached.
  return new AsyncEntry(KEYCHAIN_SERVICE, account, ENTRY_OPTIONS);
}

function keychainName(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return 'Windows Credential Manager';
  if (platform === 'darwin') return 'macOS Keychain';
  return 'Secret Service';
}

/** The store's error in words an administrator can act on, keeping the original text. */
export function explainKeychainError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (process.platform === 'linux') {
    if (/DBUS_SESSION_BUS_ADDRESS|autolaunch|session bus|dbus/i.test(message) && !/Secret Service/i.test(message)) {
      return `no DBus session bus, so no Secret Service (org.freedesktop.secrets) can be reached (${message})`;
    }
    if (/Secret Service|org\.freedesktop\.secrets|ServiceUnknown/i.test(message)) {
      return `the Secret Service (org.freedesktop.secrets) is missing, locked or has no default collection (${message})`;
    }
  }
  return message;
}
