/**
 * Chooses the key store from the config and makes sure it works before anything is sealed:
 * the OS keychain by default, refused with reasons when it does not work; a key file only when
 * the config says so explicitly.
 */
import { randomBytes } from 'node:crypto';
import { FileKeyStore } from './file-key-store.js';
import { KEY_BYTES, type KeyStore } from './key-store.js';
import { KeychainKeyStore, KeychainUnavailableError, probeKeychain } from './keychain.js';

export type KeyStoreChoice = 'keychain' | 'file';

export interface KeyStoreSettings {
  readonly dataDir: string;
  /** "secrets.keyStore" in the config; 'keychain' by default. */
  readonly keyStore?: KeyStoreChoice;
}

/**
 * The key store the relay uses. Throws KeychainUnavailableError (why, and what to do) when the
 * keychain is chosen and does not keep a probe value. A store of kind 'file' must be warned
 * about at every start and in status: its `description` says why.
 */
export async function openKeyStore(settings: KeyStoreSettings): Promise<KeyStore> {
  if (settings.keyStore === 'file') return new FileKeyStore(settings.dataDir);
  const probe = await probeKeychain();
  if (!probe.ok) throw new KeychainUnavailableError(probe.reason);
  return new KeychainKeyStore(settings.dataDir);
}

/** The warning the daemon logs at every start and status shows, or undefined for a keychain. */
export function keyStoreWarning(store: KeyStore): string | undefined {
  if (store.kind !== 'file') return undefined;
  return `Secrets are sealed with a ${store.description}. Use an OS keychain where one is available.`;
}

/** Requests in progress per store and name, so two first uses do not create two different keys. */
const pending = new WeakMap<KeyStore, Map<string, Promise<Buffer>>>();

/** The key saved under `name`; a new random one on first use. */
export function keyFor(store: KeyStore, name: string): Promise<Buffer> {
  let byName = pending.get(store);
  if (byName === undefined) {
    byName = new Map();
    pending.set(store, byName);
  }
  const inFlight = byName.get(name);
  if (inFlight !== undefined) return inFlight;
  const request = getOrCreateKey(store, name).finally(() => byName.delete(name));
  byName.set(name, request);
  return request;
}

async function getOrCreateKey(store: KeyStore, name: string): Promise<Buffer> {
  const existing = await store.getKey(name);
  if (existing !== undefined) return existing;
  const key = randomBytes(KEY_BYTES);
  await store.setKey(name, key);
  // Read it back: a store that silently drops values would otherwise seal data nobody can open.
  const saved = await store.getKey(name);
  if (saved === undefined || !saved.equals(key)) throw new Error(`the key store (${store.description}) did not keep the new key "${name}"`);
  return key;
}
