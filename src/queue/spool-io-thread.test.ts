/**
 * The spool I/O thread's program, run on a message channel in this thread so that its fsyncs can
 * be counted: the real file system underneath, every fsync recorded with the path it flushed.
 * Windows cannot fsync a folder (durable-fs.ts): there the thread is given none, as the spool does.
 */
import * as fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIRECTORY_FSYNC } from './durable-fs.js';
import { spoolIoThread, type SpoolIoReply, type SpoolIoRequest } from './spool-io-thread.js';

const REMOVAL_WAIT_MS = 30;

let dir: string;
let port: MessagePort;
let replies: SpoolIoReply[][];
let fsynced: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-io-'));
  replies = [];
  fsynced = [];
  const pathOf = new Map<number, string>();
  const recording = {
    ...fs,
    openSync: (path: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
      const fd = fs.openSync(path, flags, mode);
      pathOf.set(fd, String(path));
      return fd;
    },
    fsync: (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => {
      fsynced.push(pathOf.get(fd) ?? `fd ${fd}`);
      fs.fsync(fd, done);
    },
  } as typeof fs;
  const channel = new MessageChannel();
  spoolIoThread(recording, channel.port1, { folder: DIRECTORY_FSYNC ? dir : undefined, fileMode: 0o600, removalWaitMs: REMOVAL_WAIT_MS, releaseEveryBytes: 4 * 1024 * 1024 });
  port = channel.port2;
  port.on('message', (batch: SpoolIoReply[]) => replies.push(batch));
});

afterEach(async () => {
  port.close();
  await rm(dir, { recursive: true, force: true });
});

const at = (name: string): string => join(dir, name);
/** The folder fsyncs a step must have made: one, where folders can be fsynced. */
const folderFsyncs = (count: number): string[] => (DIRECTORY_FSYNC ? Array.from({ length: count }, () => dir) : []);
/** A message as the spool posts it: its bytes and its trailer in one write, then the commit. */
const message = (key: number, name: string, text = 'Subject: x\r\n\r\nbody\r\n'): SpoolIoRequest[] => [
  { op: 'open', key, path: at(`${name}.eml`) },
  { op: 'write', key, data: new TextEncoder().encode(`${text}{"id":"${name}"}\n`), ack: false },
  { op: 'commit', key },
];
const answered = async (count: number): Promise<SpoolIoReply[]> => {
  while (replies.flat().length < count) await new Promise((resolve) => setTimeout(resolve, 2));
  return replies.flat();
};

describe('spool I/O thread', () => {
  it('commits a batch that arrived together with one fsync of the folder and one per file', async () => {
    port.postMessage([...message(1, 'a'), ...message(2, 'b'), ...message(3, 'c')]);

    expect(await answered(3)).toEqual([{ key: 1 }, { key: 2 }, { key: 3 }]);
    expect(replies).toHaveLength(1);
    expect(fsynced.filter((path) => path === dir)).toEqual(folderFsyncs(1));
    expect(fsynced.filter((path) => path !== dir).sort()).toEqual(['a', 'b', 'c'].map((name) => at(`${name}.eml`)));
    expect((await readdir(dir)).sort()).toEqual(['a.eml', 'b.eml', 'c.eml']);
    expect(await readFile(at('b.eml'), 'utf8')).toBe('Subject: x\r\n\r\nbody\r\n{"id":"b"}\n');
  });

  it('fails the commit of a file it could not write, and leaves what it did not make', async () => {
    // A folder where the file should be: the open fails (EISDIR), and the folder is not removed.
    await fs.promises.mkdir(at('taken.eml'));
    port.postMessage(message(1, 'taken'));

    const [reply] = await answered(1);
    expect(reply).toMatchObject({ key: 1, failure: { code: 'EISDIR', syscall: 'open' } });
    expect(await readdir(dir)).toEqual(['taken.eml']);
    expect(fsynced).toEqual([]);
  });

  it('reports a file that could not be opened at the first acknowledgement', async () => {
    port.postMessage([
      { op: 'open', key: 7, path: join(dir, 'missing', 'x.eml') },
      { op: 'write', key: 7, data: new Uint8Array(10), ack: true },
    ]);
    expect(await answered(1)).toEqual([{ key: 7, failure: expect.objectContaining({ code: 'ENOENT' }) as unknown }]);
  });

  it('removes a record file only after an fsync of the folder that began after its message was removed', async () => {
    await writeFile(at('old.json'), '{}');
    await writeFile(at('old.eml'), 'x');
    port.postMessage([{ op: 'remove', key: 9, message: at('old.eml'), record: at('old.json') }]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The message is gone at once; the record waits for the folder's fsync, which waits for a commit.
    expect(await readdir(dir)).toEqual(['old.json']);
    expect(fsynced).toEqual([]);

    expect(await answered(1)).toEqual([{ key: 9 }]);
    expect(fsynced).toEqual(folderFsyncs(1));
    expect(await readdir(dir)).toEqual([]);
  });

  it('lets a removal share the folder fsync of a commit that comes within the wait', async () => {
    await writeFile(at('old.json'), '{}');
    await writeFile(at('old.eml'), 'x');
    port.postMessage([{ op: 'remove', key: 9, message: at('old.eml'), record: at('old.json') }]);
    port.postMessage(message(1, 'new'));

    expect((await answered(2)).sort((x, y) => x.key - y.key)).toEqual([{ key: 1 }, { key: 9 }]);
    expect(fsynced.filter((path) => path === dir)).toEqual(folderFsyncs(1));
    expect(await readdir(dir)).toEqual(['new.eml']);
  });

  it('removes a message without a record file at once, with no fsync', async () => {
    await writeFile(at('lone.eml'), 'x');
    port.postMessage([{ op: 'remove', key: 5, message: at('lone.eml'), record: at('lone.json') }]);

    expect(await answered(1)).toEqual([{ key: 5 }]);
    expect(await readdir(dir)).toEqual([]);
    expect(fsynced).toEqual([]);
  });

  it('aborts a streamed file: closed and removed, whatever was written', async () => {
    port.postMessage([
      { op: 'open', key: 4, path: at('part.eml') },
      { op: 'write', key: 4, data: new Uint8Array(1000), ack: true },
    ]);
    await answered(1);
    expect(await readdir(dir)).toEqual(['part.eml']);
    port.postMessage([{ op: 'abort', key: 4 }]);

    expect(await answered(2)).toEqual([{ key: 4 }, { key: 4 }]);
    expect(await readdir(dir)).toEqual([]);
    expect(fsynced).toEqual([]);
  });
});
