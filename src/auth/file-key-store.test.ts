import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileKeyStore } from './file-key-store.js';
import { keyFor, keyStoreWarning, openKeyStore } from './open-key-store.js';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'file-key-store-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('FileKeyStore', () => {
  it('keeps 32-byte keys in owner-only files and deletes them', async () => {
    const store = new FileKeyStore(dataDir);
    expect(await store.getKey('token-cache.sage')).toBeUndefined();
    const key = Buffer.alloc(32, 7);
    await store.setKey('token-cache.sage', key);
    expect((await store.getKey('token-cache.sage'))?.equals(key)).toBe(true);
    const path = join(dataDir, 'keys', 'token-cache.sage.key');
    expect((await readFile(path)).equals(key)).toBe(true);
    if (process.platform !== 'win32') {
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dataDir, 'keys'))).mode & 0o777).toBe(0o700);
    }
    await store.deleteKey('token-cache.sage');
    expect(await store.getKey('token-cache.sage')).toBeUndefined();
    await store.deleteKey('token-cache.sage');
  });

  it('refuses names that are not safe file names and keys of the wrong size', async () => {
    const store = new FileKeyStore(dataDir);
    await expect(store.setKey('../escape', Buffer.alloc(32))).rejects.toThrow(/invalid key name/);
    await expect(store.getKey('a/b')).rejects.toThrow(/invalid key name/);
    await expect(store.setKey('short', Buffer.alloc(16))).rejects.toThrow(/expected 32/);
  });

  it('says it is weaker than a keychain', async () => {
    const store = await openKeyStore({ dataDir, keyStore: 'file' });
    expect(store.kind).toBe('file');
    expect(store.description).toMatch(/weaker than an OS keychain/);
    expect(keyStoreWarning(store)).toMatch(/weaker/);
  });
});

describe('keyFor', () => {
  it('creates a random key on first use and returns the same key afterwards', async () => {
    const store = new FileKeyStore(dataDir);
    const first = await keyFor(store, 'client-secret.sage');
    expect(first.length).toBe(32);
    expect((await keyFor(store, 'client-secret.sage')).equals(first)).toBe(true);
    expect((await keyFor(store, 'client-secret.scanner')).equals(first)).toBe(false);
  });

  it('gives concurrent first uses one and the same key', async () => {
    const store = new FileKeyStore(dataDir);
    const keys = await Promise.all([1, 2, 3, 4].map(() => keyFor(store, 'token-cache.sage')));
    const stored = await store.getKey('token-cache.sage');
    for (const key of keys) expect(key.equals(stored ?? Buffer.alloc(0))).toBe(true);
  });
});
