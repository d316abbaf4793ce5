/**
 * Keys in files (`<dataDir>/keys/<name>.key`, mode 0600 in a 0700 folder), for machines without
 * a usable keychain, and only when the config chooses it explicitly ("secrets.keyStore": "file").
 * Anyone who can read the data folder as this account (or as an administrator, or from a
 * backup) can then open the sealed token cache: the daemon warns about it at every start.
 */
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDirectory, PRIVATE_DIR_MODE, writeFileDurable } from '../core/durable-fs.js';
import { restrictSecretFile } from '../core/windows-file-acl.js';
import { assertKeyLength, assertKeyName, type KeyStore } from './key-store.js';
import { dataPaths } from '../core/data-paths.js';

export class FileKeyStore implements KeyStore {
  readonly kind = 'file';
  readonly description: string;
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = dataPaths(dataDir).keys;
    this.description =
      `key file in ${this.dir} (mode 0600), chosen by "secrets.keyStore": "file": weaker than an OS keychain, ` +
      'since anyone who can read the data folder (or a backup of it) can decrypt the stored tokens and secrets';
  }

  async getKey(name: string): Promise<Buffer | undefined> {
    let key: Buffer;
    try {
      key = await readFile(this.pathOf(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    assertKeyLength(name, key);
    return key;
  }

  async setKey(name: string, key: Buffer): Promise<void> {
    assertKeyLength(name, key);
    const path = this.pathOf(name);
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // mkdir leaves an existing folder's mode alone: tighten it in case it was made by hand.
    await chmod(this.dir, PRIVATE_DIR_MODE);
    await writeFileDurable(path, key);
    await restrictSecretFile(path); // Windows: only SYSTEM, Administrators, the service account
  }

  async deleteKey(name: string): Promise<void> {
    await rm(this.pathOf(name), { force: true });
    await fsyncDirectory(this.dir).catch(() => undefined);
  }

  private pathOf(name: string): string {
    assertKeyName(name);
    return join(this.dir, `${name}.key`);
  }
}
