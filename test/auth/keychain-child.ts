/**
 * Run by keychain.test.ts in a child process, because a Secret Service (or its absence) is a
 * property of the process environment (DBUS_SESSION_BUS_ADDRESS).
 * Modes:
 *   store  : open the keychain key store, create and read back keys, store and load a client
 *            secret, list what `secret-tool` sees under the relay's service name.
 *   refuse : open the keychain key store and report the refusal.
 * Prints one JSON object on stdout.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  KEYCHAIN_SERVICE,
  keychainEntryName,
  KeychainKeyStore,
  keyFor,
  loadClientSecret,
  openKeyStore,
  storeClientSecret,
} from '../../src/auth/index.js';

async function store(dataDir: string, otherDataDir: string, secret: string): Promise<unknown> {
  const keyStore = await openKeyStore({ dataDir });
  const key = await keyFor(keyStore, 'token-cache.sage');
  // A new store object (as after a restart) reads the same key back from the Secret Service.
  const readBack = await new KeychainKeyStore(dataDir).getKey('token-cache.sage');
  // Another data folder (another relay on the machine) does not see it.
  const otherRelay = await new KeychainKeyStore(otherDataDir).getKey('token-cache.sage');
  await storeClientSecret(keyStore, dataDir, 'sage', secret);
  const loaded = await loadClientSecret(new KeychainKeyStore(dataDir), dataDir, 'sage');
  // secret-tool prints labels and secrets on stdout, attributes on stderr.
  const found = spawnSync('secret-tool', ['search', '--all', 'service', KEYCHAIN_SERVICE], { encoding: 'utf8' });
  const search = `${found.stdout}${found.stderr}`;
  const lookup = execFileSync('secret-tool', ['lookup', 'service', KEYCHAIN_SERVICE, 'username', keychainEntryName(dataDir, 'token-cache.sage')], {
    encoding: 'utf8',
  });
  await keyStore.deleteKey('token-cache.sage');
  const afterDelete = await keyStore.getKey('token-cache.sage');
  return {
    kind: keyStore.kind,
    description: keyStore.description,
    keyBase64: key.toString('base64'),
    readBackMatches: readBack?.equals(key) === true,
    otherRelaySees: otherRelay !== undefined,
    secretRoundTrip: loaded === secret,
    search,
    lookup,
    deleted: afterDelete === undefined,
  };
}

async function refuse(dataDir: string): Promise<unknown> {
  try {
    const keyStore = await openKeyStore({ dataDir });
    return { opened: keyStore.kind };
  } catch (error) {
    const e = error as Error & { reason?: string };
    return { errorName: e.name, message: e.message, reason: e.reason };
  }
}

const [mode, dataDir, otherDataDir, secret] = process.argv.slice(2);
if (mode === undefined || dataDir === undefined) throw new Error('usage: keychain-child.ts store|refuse DATA_DIR [OTHER_DATA_DIR SECRET]');
if (mode === 'store' && (otherDataDir === undefined || secret === undefined)) throw new Error('store needs OTHER_DATA_DIR and SECRET');
const result = mode === 'store' ? await store(dataDir, otherDataDir ?? '', secret ?? '') : await refuse(dataDir);
process.stdout.write(`${JSON.stringify(result)}\n`);
