/**
 * The key store on a real Secret Service: gnome-keyring inside its own DBus session
 * (dbus-run-session), in a child process whose HOME and XDG folders are temporary.
 * And the refusal, with the documented advice, when no Secret Service can be reached.
 * Needs gnome-keyring, libsecret-tools and dbus (installed by .ci/run).
 * On Windows (the Windows job runs this file with node.exe under Wine: docs/windows-release.md),
 * the same store on Credential Manager, in this process: it is the account's own store.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keychainEntryName, KeychainKeyStore, keyFor, loadClientSecret, openKeyStore, storeClientSecret } from '../../src/auth/index.js';
import { missingSecretServiceTool, secretServiceEnv, WITH_SECRET_SERVICE } from '../support/secret-service.js';
import { requireToolUnderCi } from '../support/system-tool.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./keychain-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const missing = missingSecretServiceTool;

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'keychain-home-'));
  await mkdir(join(home, 'runtime'), { mode: 0o700 });
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** The child's environment: a private home, and no session bus unless dbus-run-session adds one. */
const childEnv = (): NodeJS.ProcessEnv => secretServiceEnv(home);

const nodeChild = (mode: string, ...args: string[]) => [process.execPath, '--import', 'tsx', CHILD, mode, ...args];

async function runChild(command: string[]): Promise<Record<string, unknown>> {
  const [program, ...args] = command;
  const { stdout } = await run(program ?? 'false', args, { cwd: ROOT, env: childEnv(), timeout: 45_000 });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

/** Inside a DBus session with an unlocked gnome-keyring: as the README's headless-keychain recipe starts one. */
const withSecretService = (command: string[]): string[] => [...WITH_SECRET_SERVICE, ...command];

// The Secret Service is Linux's; Windows has its own test below.
describe.skipIf(process.platform === 'win32')('keychain key store on a real Secret Service', () => {
  if (missing !== undefined) {
    requireToolUnderCi(missing);
    return;
  }

  it('stores a key in the Secret Service (not the kernel keyring), reads it back, and seals a client secret with it', async () => {
    const dataDir = join(home, 'data');
    const secret = 'client-secret-7Q~plaintext-marker';
    const result = await runChild(withSecretService(nodeChild('store', dataDir, join(home, 'other-data'), secret)));

    expect(result.kind).toBe('keychain');
    expect(result.readBackMatches).toBe(true);
    expect(result.otherRelaySees).toBe(false);
    expect(result.secretRoundTrip).toBe(true);
    expect(result.deleted).toBe(true);
    // secret-tool talks to the Secret Service only: seeing the entries there proves the pinning.
    const search = String(result.search);
    expect(search).toContain(`attribute.service = smtp-oauth-relay`);
    expect(search).toContain(`attribute.username = ${keychainEntryName(dataDir, 'token-cache.sage')}`);
    expect(search).toContain(`attribute.username = ${keychainEntryName(dataDir, 'client-secret.sage')}`);
    expect(String(result.lookup)).toBe(String(result.keyBase64));

    // The secret is sealed in the data folder, and nowhere in the temporary home in plain text
    // (the gnome-keyring files included).
    expect(await readdir(join(dataDir, 'secrets'))).toEqual(['sage.client-secret.sealed']);
    const leaks: string[] = [];
    for (const entry of await readdir(home, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const bytes = await readFile(path).catch(() => Buffer.alloc(0));
      if (bytes.includes(Buffer.from(secret)) || bytes.includes(Buffer.from(String(result.keyBase64)))) leaks.push(path);
    }
    expect(leaks).toEqual([]);
  });

  // This is also what proves the pinning to the Secret Service: unpinned, @napi-rs/keyring would
  // fall back to the kernel keyring here and the store would open (and forget keys at reboot).
  it('refuses with the reason and the documented advice when there is no session bus', async () => {
    const result = await runChild(nodeChild('refuse', join(home, 'data')));
    expect(result.errorName).toBe('KeychainUnavailableError');
    const message = String(result.message);
    expect(message).toContain('no DBus session bus');
    expect(message).toContain('org.freedesktop.secrets');
    expect(message).toContain('gnome-keyring');
    expect(message).toContain('"secrets": { "keyStore": "file" }');
  });

  it('refuses when a session bus exists but no Secret Service collection is unlocked', async () => {
    const result = await runChild(['dbus-run-session', '--', ...nodeChild('refuse', join(home, 'data'))]);
    expect(result.errorName).toBe('KeychainUnavailableError');
    expect(String(result.reason)).toMatch(/Secret Service/);
    expect(String(result.message)).toContain('"secrets": { "keyStore": "file" }');
  });
});

describe.runIf(process.platform === 'win32')('keychain key store on Windows Credential Manager', () => {
  it('stores a key, reads it back from a new store (as after a restart), keeps relays apart, and seals a client secret with it', async () => {
    const dataDir = join(home, 'data');
    const secret = 'client-secret-7Q~plaintext-marker';
    const keyStore = await openKeyStore({ dataDir });
    expect(keyStore.kind).toBe('keychain');
    const key = await keyFor(keyStore, 'token-cache.sage');
    expect((await new KeychainKeyStore(dataDir).getKey('token-cache.sage'))?.equals(key)).toBe(true);
    expect(await new KeychainKeyStore(join(home, 'other-data')).getKey('token-cache.sage')).toBeUndefined();

    await storeClientSecret(keyStore, dataDir, 'sage', secret);
    expect(await loadClientSecret(new KeychainKeyStore(dataDir), dataDir, 'sage')).toBe(secret);
    expect(await readdir(join(dataDir, 'secrets'))).toEqual(['sage.client-secret.sealed']);
    const sealed = await readFile(join(dataDir, 'secrets', 'sage.client-secret.sealed'));
    expect(sealed.includes(Buffer.from(secret))).toBe(false);

    for (const name of ['token-cache.sage', 'client-secret.sage']) await keyStore.deleteKey(name);
    expect(await keyStore.getKey('token-cache.sage')).toBeUndefined();
  });
});
