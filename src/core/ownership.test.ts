import { mkdir, mkdtemp, rm, stat, symlink, writeFile, chown, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataFolderOwner } from './ownership.js';

const NOBODY = 65534;
const asRoot = process.platform !== 'win32' && process.getuid?.() === 0;

describe.skipIf(!asRoot)('files written as root into a data folder that belongs to the service user', () => {
  let dir: string;
  let dataDir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ownership-'));
    dataDir = join(dir, 'data');
    await mkdir(dataDir, { mode: 0o700 });
    await chown(dataDir, NOBODY, NOBODY);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('go to the data folder\'s owner, folders and all they hold', async () => {
    await mkdir(join(dataDir, 'tokens', 'deeper'), { recursive: true });
    await writeFile(join(dataDir, 'tokens', 'deeper', 'sage.msal.sealed'), 'x', { mode: 0o600 });
    await writeFile(join(dataDir, 'users.json'), '{}', { mode: 0o600 });
    const owner = await DataFolderOwner.of(dataDir);
    await owner.adopt(['users.json', 'tokens', 'missing']);
    for (const path of ['users.json', 'tokens', 'tokens/deeper', 'tokens/deeper/sage.msal.sealed']) {
      expect((await stat(join(dataDir, path))).uid, path).toBe(NOBODY);
    }
    expect((await stat(join(dataDir, 'users.json'))).mode & 0o777).toBe(0o600);
  });

  it('never follow a link out of the data folder', async () => {
    const outside = join(dir, 'outside.txt');
    await writeFile(outside, 'root file');
    await mkdir(join(dataDir, 'keys'));
    await symlink(outside, join(dataDir, 'keys', 'planted'));
    await symlink(dir, join(dataDir, 'secrets'));
    await (await DataFolderOwner.of(dataDir)).adopt(['keys', 'secrets']);
    expect((await stat(outside)).uid).toBe(0);
    expect((await stat(dir)).uid).toBe(0);
    expect((await lstat(join(dataDir, 'keys', 'planted'))).uid).toBe(NOBODY);
  });
});

describe.skipIf(process.platform === 'win32')('a data folder this user does not own', () => {
  it.skipIf(asRoot)('is refused before anything is written, naming whom to run as', async () => {
    await expect(DataFolderOwner.of('/')).rejects.toThrow(/belongs to uid 0.*run it as the relay's user/);
  });

  it('that does not exist yet needs nothing', async () => {
    await expect((await DataFolderOwner.of(join(tmpdir(), 'does-not-exist-ownership'))).adopt(['users.json'])).resolves.toBeUndefined();
  });
});
