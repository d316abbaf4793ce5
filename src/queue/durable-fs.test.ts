import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsyncDirectory, writeFileDurable } from './durable-fs.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'durable-fs-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileDurable', () => {
  it('replaces the file and leaves no temporary file behind', async () => {
    const path = join(dir, 'record.json');
    await writeFile(path, 'old');
    await writeFileDurable(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['record.json']);
  });

  it('keeps its temporary file in tmpDir and removes it when the rename fails', async () => {
    const tmpDir = join(dir, 'tmp');
    await mkdir(tmpDir);
    // The target folder does not exist: the rename fails after the temporary file was written.
    await expect(writeFileDurable(join(dir, 'missing', 'record.json'), 'x', { tmpDir })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(tmpDir)).toEqual([]);
  });
});

describe('fsyncDirectory', () => {
  it.skipIf(process.platform === 'win32')('opens the folder for real (a missing folder fails)', async () => {
    await expect(fsyncDirectory(dir)).resolves.toBeUndefined();
    await expect(fsyncDirectory(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
