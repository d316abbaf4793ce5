import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { releaseId, runtimeFolderCandidates, unpackRuntimeAssets, type RuntimeAssets } from './runtime-folder.js';

const assetsOf = (files: Record<string, string>): RuntimeAssets => ({
  names: Object.keys(files),
  read: (name) => Buffer.from(files[name] ?? ''),
});

describe('runtime folder of the Windows executable', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runtime-folder-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses ProgramData only when the product folder already exists, then the account profile', async () => {
    const env = { ProgramData: join(dir, 'ProgramData'), LOCALAPPDATA: join(dir, 'Local') };
    expect(runtimeFolderCandidates('0.1.0-abc', env)).toEqual([join(dir, 'Local', 'smtp-oauth-relay', 'bin', '0.1.0-abc')]);
    await mkdir(join(dir, 'ProgramData', 'smtp-oauth-relay'), { recursive: true });
    expect(runtimeFolderCandidates('0.1.0-abc', env)).toEqual([
      join(dir, 'ProgramData', 'smtp-oauth-relay', 'bin', '0.1.0-abc'),
      join(dir, 'Local', 'smtp-oauth-relay', 'bin', '0.1.0-abc'),
    ]);
  });

  it('names the folder by version and content, so two builds never share one', () => {
    const a = releaseId('0.1.0', assetsOf({ 'x.node': 'one' }));
    expect(a).toMatch(/^0\.1\.0-[0-9a-f]{12}$/);
    expect(releaseId('0.1.0', assetsOf({ 'x.node': 'one' }))).toBe(a);
    expect(releaseId('0.1.0', assetsOf({ 'x.node': 'two' }))).not.toBe(a);
  });

  it('unpacks into subfolders, repairs a changed file, and leaves no temporary file', async () => {
    const folder = join(dir, 'bin');
    const assets = assetsOf({ 'keyring.node': 'binary', 'service/windows/x.xml': '<x/>' });
    expect(unpackRuntimeAssets(assets, [folder])).toBe(folder);
    expect(await readFile(join(folder, 'service', 'windows', 'x.xml'), 'utf8')).toBe('<x/>');
    await writeFile(join(folder, 'keyring.node'), 'tampered');
    unpackRuntimeAssets(assets, [folder]);
    expect(await readFile(join(folder, 'keyring.node'), 'utf8')).toBe('binary');
    expect((await readdir(folder)).sort()).toEqual(['keyring.node', 'service']);
  });

  it('moves on to the next folder when one cannot be written, and says why when none can', async () => {
    const assets = assetsOf({ 'keyring.node': 'binary' });
    const file = join(dir, 'a-file');
    await writeFile(file, '');
    // A folder below a file cannot be made, even as root.
    expect(unpackRuntimeAssets(assets, [join(file, 'bin'), join(dir, 'second')])).toBe(join(dir, 'second'));
    expect(() => unpackRuntimeAssets(assets, [join(file, 'bin')])).toThrow(/cannot unpack the executable's native addons into any folder \(.*a-file/);
  });
});
