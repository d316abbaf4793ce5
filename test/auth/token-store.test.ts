/**
 * The sealed token store with the real MSAL against the mock tenant: MSAL's cache goes through
 * the plugin into a sealed file that a second MSAL instance reads; app-only secrets come from the
 * sealed secret store; and neither the token nor the secret is anywhere under the data folder
 * in plain text. Keys are in a FileKeyStore here; test/auth/keychain.test.ts covers the keychain.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ClientSecretCorruptError,
  ClientSecretNotStoredError,
  createTokenCachePlugin,
  createTokenProvider,
  deleteClientSecret,
  EmptySecretError,
  FileKeyStore,
  HttpsNetworkClient,
  loadClientSecret,
  readSecret,
  storeClientSecret,
  storedClientSecretSource,
  TokenCacheCorruptError,
  tokenCachePath,
  clientSecretPath,
  type ClosableTokenProvider,
} from '../../src/auth/index.js';
import { configSchema, type AccountConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { SignInRequiredError } from '../../src/core/token.js';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { ManualClock } from '../support/manual-clock.js';

const SCOPE = 'https://outlook.office365.com/.default';
let tenant: MockTenant;
let dataDir: string;
let config: Config;
const networks: HttpsNetworkClient[] = [];
const providers: ClosableTokenProvider[] = [];

beforeAll(async () => {
  tenant = await startMockTenant();
});

afterAll(async () => {
  await tenant.close();
});

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'token-store-'));
  config = configSchema.parse(tenant.relayConfig(dataDir));
});

afterEach(async () => {
  for (const network of networks.splice(0)) network.destroy();
  for (const provider of providers.splice(0)) provider.close();
  tenant.identity.clearFailures();
  await rm(dataDir, { recursive: true, force: true });
});

/** Every file under `dir`, recursively, with its bytes. */
async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(path, await readFile(path));
  }
  return files;
}

async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  for (const [path, bytes] of await filesUnder(dir)) {
    if (bytes.includes(Buffer.from(needle, 'utf8'))) found.push(path);
  }
  return found;
}

function msalApp(store: FileKeyStore, clock?: ManualClock): ConfidentialClientApplication {
  const network = new HttpsNetworkClient({ extraCaPem: tenant.caPem });
  networks.push(network);
  return new ConfidentialClientApplication({
    auth: {
      clientId: tenant.clientId,
      clientSecret: tenant.clientSecret,
      authority: `${tenant.authorityHost}/${tenant.tenantId}`,
      knownAuthorities: [new URL(tenant.authorityHost).host],
    },
    cache: { cachePlugin: createTokenCachePlugin({ store, dataDir, account: 'sage', ...(clock === undefined ? {} : { clock }) }) },
    system: { networkClient: network },
  });
}

function appOnlyAccount(): AccountConfig {
  const base = config.accounts[0];
  if (base === undefined) throw new Error('no account');
  if (base.auth.method !== 'client-credentials') throw new Error('expected client credentials');
  // As the config may now be written: no clientSecret and no clientSecretEnv.
  return { ...base, auth: { ...base.auth, clientSecret: undefined, clientSecretEnv: undefined } };
}

describe('MSAL token cache through the sealed-file plugin', () => {
  it('persists the token sealed, and a second MSAL instance reads it from the file', async () => {
    const store = new FileKeyStore(dataDir);
    const first = await msalApp(store).acquireTokenByClientCredential({ scopes: [SCOPE] });
    expect(first?.accessToken).toBeTruthy();
    const token = first?.accessToken ?? '';
    const sealedPath = tokenCachePath(dataDir, 'sage');
    expect((await readFile(sealedPath)).subarray(0, 4).toString()).toBe('SOR1');

    const requestsBefore = tenant.identity.tokenRequests;
    const second = await msalApp(store).acquireTokenByClientCredential({ scopes: [SCOPE] });
    expect(second?.fromCache).toBe(true);
    expect(second?.accessToken).toBe(token);
    expect(tenant.identity.tokenRequests).toBe(requestsBefore);

    // Neither the token (nor any recognisable part of it) nor the client secret is on disk in plain text;
    // the search itself does find what is there.
    expect(await filesContaining(dataDir, 'SOR1')).toEqual([sealedPath]);
    expect(await filesContaining(dataDir, token)).toEqual([]);
    expect(await filesContaining(dataDir, token.split('.')[1] ?? token)).toEqual([]);
    expect(await filesContaining(dataDir, 'AccessToken')).toEqual([]);
    expect(await filesContaining(dataDir, tenant.clientSecret)).toEqual([]);
  });

  it('a cache sealed with another key is moved aside and reported, then MSAL starts afresh', async () => {
    const clock = new ManualClock();
    await msalApp(new FileKeyStore(dataDir)).acquireTokenByClientCredential({ scopes: [SCOPE] });
    const sealedPath = tokenCachePath(dataDir, 'sage');
    const original = await readFile(sealedPath);
    // The key is lost (e.g. the keychain was reset): a new key store holds a different key.
    await rm(join(dataDir, 'keys'), { recursive: true });

    const app = msalApp(new FileKeyStore(dataDir), clock);
    const error = await app.acquireTokenByClientCredential({ scopes: [SCOPE] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenCacheCorruptError);
    const corrupt = error as TokenCacheCorruptError;
    expect(corrupt.message).toContain('The token cache of account "sage" could not be decrypted');
    expect(corrupt.message).toContain(corrupt.movedTo);
    expect(corrupt.message).toContain('smtp-oauth-relay login --account sage');
    expect((await readFile(corrupt.movedTo)).equals(original)).toBe(true);

    // Not silently replaced: the next access starts from an empty cache beside the kept copy.
    const fresh = await app.acquireTokenByClientCredential({ scopes: [SCOPE] });
    expect(fresh?.fromCache).toBe(false);
    expect((await readFile(corrupt.movedTo)).equals(original)).toBe(true);
    expect((await readFile(sealedPath)).equals(original)).toBe(false);
  });
});

describe('stored client secrets', () => {
  it('store, load and delete; sealed on disk', async () => {
    const store = new FileKeyStore(dataDir);
    expect(await loadClientSecret(store, dataDir, 'sage')).toBeUndefined();
    await storeClientSecret(store, dataDir, 'sage', 'p@ss with spaces ');
    expect(await loadClientSecret(store, dataDir, 'sage')).toBe('p@ss with spaces ');
    expect(await filesContaining(dataDir, 'p@ss')).toEqual([]);
    // Its own key, not the token cache's.
    expect((await readdir(join(dataDir, 'keys'))).sort()).toEqual(['client-secret.sage.key']);
    await deleteClientSecret(store, dataDir, 'sage');
    expect(await loadClientSecret(store, dataDir, 'sage')).toBeUndefined();
    expect(await store.getKey('client-secret.sage')).toBeUndefined();
    await expect(storeClientSecret(store, dataDir, 'sage', '')).rejects.toThrow(/empty/);
  });

  it('the app-only provider takes its secret from the store when the config has none', async () => {
    const store = new FileKeyStore(dataDir);
    await storeClientSecret(store, dataDir, 'sage', tenant.clientSecret);
    const provider = createTokenProvider(appOnlyAccount(), config.identity, {
      logger: silentLogger(),
      clientSecretSource: storedClientSecretSource(store, dataDir, 'sage'),
    });
    providers.push(provider);
    const { token } = await provider.getToken();
    expect(token.split('.')).toHaveLength(3);
    expect(await filesContaining(dataDir, tenant.clientSecret)).toEqual([]);
    expect(await filesContaining(dataDir, token)).toEqual([]);
  });

  it('no stored secret is a sign-in problem that says how to store one; a stored secret then works without a restart', async () => {
    const store = new FileKeyStore(dataDir);
    const provider = createTokenProvider(appOnlyAccount(), config.identity, {
      logger: silentLogger(),
      clientSecretSource: storedClientSecretSource(store, dataDir, 'sage'),
    });
    providers.push(provider);
    const error = await provider.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientSecretNotStoredError);
    expect(error).toBeInstanceOf(SignInRequiredError);
    expect((error as Error).message).toContain('smtp-oauth-relay secret set --account sage');

    await storeClientSecret(store, dataDir, 'sage', tenant.clientSecret);
    await expect(provider.getToken()).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('a stored secret refused by Entra is read again after `secret set`', async () => {
    const store = new FileKeyStore(dataDir);
    await storeClientSecret(store, dataDir, 'sage', 'an-old-wrong-secret');
    const provider = createTokenProvider(appOnlyAccount(), config.identity, {
      logger: silentLogger(),
      clientSecretSource: storedClientSecretSource(store, dataDir, 'sage'),
    });
    providers.push(provider);
    const refused = await provider.getToken().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SignInRequiredError);
    expect((refused as SignInRequiredError).aadstsCode).toBe('AADSTS7000215');
    await storeClientSecret(store, dataDir, 'sage', tenant.clientSecret);
    await expect(provider.getToken()).resolves.toMatchObject({ token: expect.any(String) });
  });

  it('a stored secret that does not decrypt is kept aside and reported as a sign-in problem', async () => {
    const store = new FileKeyStore(dataDir);
    await storeClientSecret(store, dataDir, 'sage', 'secret-value');
    const path = clientSecretPath(dataDir, 'sage');
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    const error = await storedClientSecretSource(store, dataDir, 'sage')().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientSecretCorruptError);
    expect(error).toBeInstanceOf(SignInRequiredError);
    const movedTo = (error as ClientSecretCorruptError).movedTo;
    expect((await readFile(movedTo)).equals(bytes)).toBe(true);
    expect((error as Error).message).toContain(movedTo);
  });
});

describe('readSecret (for `secret set`)', () => {
  const piped = (text: string) => {
    const input = new PassThrough();
    input.end(text);
    return input;
  };

  it('reads a piped secret without its final line break', async () => {
    expect(await readSecret({ input: piped('s3cret~value\n') })).toBe('s3cret~value');
    expect(await readSecret({ input: piped('s3cret~value\r\n') })).toBe('s3cret~value');
    expect(await readSecret({ input: piped('ends with space ') })).toBe('ends with space ');
  });

  it('refuses an empty secret', async () => {
    await expect(readSecret({ input: piped('') })).rejects.toBeInstanceOf(EmptySecretError);
    await expect(readSecret({ input: piped('\n') })).rejects.toBeInstanceOf(EmptySecretError);
  });
});
