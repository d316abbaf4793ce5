import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpReplyError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { readMessage } from '../core/message-file.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { MessageSourceError } from './message-file.js';
import { newQueueId } from './queue-id.js';
import { readRecordTrailer, recordTrailer } from './record-trailer.js';
import { Spool, type NewRecordFields } from './spool.js';
import { INLINE_BYTES } from './spool-file-writer.js';

const FIELDS: NewRecordFields = {
  kind: 'message',
  account: 'sage',
  client: { address: '127.0.0.1', helo: 'sage-server' },
  mailFrom: 'invoices@contoso.com',
  recipients: ['a@example.com', 'b@example.com'],
};
const MESSAGE = Buffer.from('From: invoices@contoso.com\r\nTo: a@example.com\r\nSubject: Invoice\r\n\r\nHello\r\n');
/** Streams to the spool I/O thread as it arrives, where an ordinary message waits for its commit. */
const LARGER_THAN_INLINE = Buffer.concat([MESSAGE, Buffer.alloc(INLINE_BYTES + 64 * 1024, 0x61)]);

let dataDir: string;
let clock: ManualClock;
let spool: Spool;
/** The id the next receive will use, so a test can place a file where the message goes. */
let nextIds: string[];

const spoolDir = (...parts: string[]): string => join(dataDir, 'spool', ...parts);

async function openSpool(): Promise<Spool> {
  const opened = await Spool.open(dataDir, {
    logger: silentLogger(),
    clock,
    newId: (now) => nextIds.shift() ?? newQueueId(now),
  });
  return opened.spool;
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'spool-'));
  clock = new ManualClock();
  nextIds = [];
  spool = await openSpool();
});

afterEach(async () => {
  await spool.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('Spool.open', () => {
  it('creates the state folders, private to the relay account', async () => {
    for (const name of ['tmp', 'queue', 'failed', 'quarantine']) {
      const info = await stat(spoolDir(name));
      expect(info.isDirectory()).toBe(true);
      if (process.platform !== 'win32') expect(info.mode & 0o777).toBe(0o700);
    }
  });
});

describe('receive and commit', () => {
  it('streams the message to queue/<id>.eml and commits it by writing its record at its end', async () => {
    const draft = await spool.receive(Readable.from([MESSAGE.subarray(0, 10), MESSAGE.subarray(10)]));
    expect(draft.size).toBe(MESSAGE.length);
    // A message of ordinary size reaches the disk with its commit (spool-io.ts, INLINE_BYTES).
    expect(await readdir(spoolDir('queue'))).toEqual([]);

    const record = await draft.commit(FIELDS);

    const at = new Date(clock.now()).toISOString();
    expect(record).toMatchObject({
      version: 1,
      id: draft.id,
      kind: 'message',
      account: 'sage',
      receivedAt: at,
      nextAttemptAt: at,
      attempts: 0,
      size: MESSAGE.length,
      client: { address: '127.0.0.1', helo: 'sage-server' },
      mailFrom: 'invoices@contoso.com',
      recipients: [
        { address: 'a@example.com', status: 'pending' },
        { address: 'b@example.com', status: 'pending' },
      ],
    });
    // One file: the message as received, then its record (record-trailer.ts).
    expect(await readdir(spoolDir('queue'))).toEqual([`${draft.id}.eml`]);
    expect(await readdir(spoolDir('tmp'))).toEqual([]);
    expect(await readFile(spool.messagePath(draft.id))).toEqual(Buffer.concat([MESSAGE, recordTrailer(record)]));
    expect(await readMessage(spool.messageFile(record))).toEqual(MESSAGE);
    expect(await readRecordTrailer(spool.messagePath(draft.id))).toEqual(record);
  });

  it('refuses a second commit and does not let discard touch a committed message', async () => {
    const draft = await spool.receive(Readable.from([MESSAGE]));
    const record = await draft.commit(FIELDS);
    await expect(draft.commit(FIELDS)).rejects.toThrow(/already committed/);
    await draft.discard();
    expect(await readMessage(spool.messageFile(record))).toEqual(MESSAGE);
    expect(await readRecordTrailer(spool.messagePath(draft.id))).toEqual(record);
  });

  it('discard removes the received file', async () => {
    const draft = await spool.receive(Readable.from([MESSAGE]));
    await draft.discard();
    expect(await readdir(spoolDir('queue'))).toEqual([]);
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  it('a commit with no recipients fails and leaves nothing behind', async () => {
    const draft = await spool.receive(Readable.from([MESSAGE]));
    await expect(draft.commit({ ...FIELDS, recipients: [] })).rejects.toBeInstanceOf(SmtpReplyError);
    expect(await readdir(spoolDir('queue'))).toEqual([]);
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  it('enqueueBuffer receives and commits a generated message', async () => {
    const record = await spool.enqueueBuffer(MESSAGE, { ...FIELDS, kind: 'dsn', recipients: ['invoices@contoso.com'] });
    expect(record.kind).toBe('dsn');
    expect(record.size).toBe(MESSAGE.length);
    expect(await readMessage(spool.messageFile(record))).toEqual(MESSAGE);
    expect(await readRecordTrailer(spool.messagePath(record.id))).toEqual(record);
  });

  it('commits a message that streamed to the thread with its record at its end', async () => {
    const record = await (await spool.receive(Readable.from([LARGER_THAN_INLINE]))).commit(FIELDS);
    expect(record.size).toBe(LARGER_THAN_INLINE.length);
    expect(await readdir(spoolDir('queue'))).toEqual([`${record.id}.eml`]);
    expect(await readMessage(spool.messageFile(record))).toEqual(LARGER_THAN_INLINE);
    expect(await readRecordTrailer(spool.messagePath(record.id))).toEqual(record);
  });

  it('refuses new messages once closed', async () => {
    await spool.close();
    const error = await spool.receive(Readable.from([MESSAGE])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmtpReplyError);
    expect((error as SmtpReplyError).reply).toMatch(/^451 4\.3\.2 /);
  });
});

describe('receive when the input breaks', () => {
  it('removes the partial file when the stream errors midway (client gone)', async () => {
    const input = new PassThrough();
    const received = spool.receive(input);
    input.write(LARGER_THAN_INLINE);
    // Let the first chunk reach the disk, so there is a partial file to clean up.
    await waitFor(async () => (await readdir(spoolDir('queue'))).length === 1 && (await stat(await tmpFile())).size > 0);
    input.destroy(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }));

    const error = await received.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmtpReplyError);
    expect((error as SmtpReplyError).reply).toMatch(/^451 4\.4\.2 /);
    expect((error as Error).cause).toBeInstanceOf(MessageSourceError);
    expect(((error as Error).cause as Error).cause).toMatchObject({ code: 'ECONNECTION' });
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  it('removes the partial file when the stream is destroyed without an error', async () => {
    const input = new PassThrough();
    const received = spool.receive(input);
    input.write(LARGER_THAN_INLINE);
    await waitFor(async () => (await readdir(spoolDir('queue'))).length === 1 && (await stat(await tmpFile())).size > 0);
    input.destroy();
    await expect(received).rejects.toMatchObject({ responseCode: 451, enhancedCode: '4.4.2' });
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  it('rejects when the client is gone before the file is even open', async () => {
    const input = new PassThrough();
    const received = spool.receive(input);
    input.destroy(); // 'close' is emitted while the spool is still opening tmp/<id>.eml
    await expect(received).rejects.toMatchObject({ responseCode: 451, enhancedCode: '4.4.2' });
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  it('rejects, and nothing crashes, when the client is gone with an error before the file is even open', async () => {
    // What the inbound does when smtp-server reports a dropped connection: destroy with the error.
    // Nobody else listens yet, so an unobserved 'error' would take the whole process down.
    const input = new PassThrough();
    const received = spool.receive(input);
    input.destroy(new Error('Connection closed before the message was received in full'));
    await expect(received).rejects.toMatchObject({ responseCode: 451, enhancedCode: '4.4.2' });
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  async function tmpFile(): Promise<string> {
    const [name] = await readdir(spoolDir('queue'));
    return spoolDir('queue', name ?? 'none');
  }
});

/**
 * The errno of an open or rename through a path component that is a file: POSIX says ENOTDIR;
 * Windows answers ERROR_PATH_NOT_FOUND, which libuv maps to ENOENT.
 */
const NOT_A_FOLDER = process.platform === 'win32' ? 'ENOENT' : 'ENOTDIR';

describe('receive when the disk fails', () => {
  // Tests run as root, where permissions do not stop a write, so the failures are made at real
  // kernel boundaries instead: a path component that is not a folder, and a device that is full.

  it('answers 451 4.3.0 with the fs error as cause when queue/ cannot hold files, and drains the input', async () => {
    await rm(spoolDir('queue'), { recursive: true });
    await writeFile(spoolDir('queue'), 'not a folder'); // open(queue/<id>.eml) now fails (NOT_A_FOLDER)
    const input = Readable.from([LARGER_THAN_INLINE, MESSAGE]);
    const ended = new Promise((resolve) => input.once('end', resolve));

    const error = await spool.receive(input).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SmtpReplyError);
    expect((error as SmtpReplyError).reply).toBe('451 4.3.0 Could not store the message, try again later');
    expect((error as Error).cause).toMatchObject({ code: NOT_A_FOLDER });
    // The producer (smtp-server's DATA stream) must reach its end, or it would never reply.
    await ended;
    expect(await readdir(spoolDir('tmp'))).toEqual([]);
  });

  it('answers 451 4.3.0 at the commit when a message of ordinary size cannot be stored', async () => {
    await rm(spoolDir('queue'), { recursive: true });
    await writeFile(spoolDir('queue'), 'not a folder');
    const draft = await spool.receive(Readable.from([MESSAGE]));

    const error = await draft.commit(FIELDS).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SmtpReplyError);
    expect((error as SmtpReplyError).reply).toBe('451 4.3.0 Could not store the message, try again later');
    expect((error as Error).cause).toMatchObject({ code: NOT_A_FOLDER });
    await draft.discard();
  });

  // /dev/full is Linux's "disk full" device: every write(2) fails with ENOSPC.
  it.runIf(existsSync('/dev/full'))('answers 451 on ENOSPC midway, removes the file and drains the input', async () => {
    const id = newQueueId(clock.now());
    nextIds.push(id);
    await symlink('/dev/full', spoolDir('queue', `${id}.eml`));
    const chunks = Array.from({ length: 50 }, () => Buffer.alloc(64 * 1024, 0x61));
    const input = Readable.from(chunks);
    let ended = false;
    input.once('end', () => {
      ended = true;
    });

    const error = await spool.receive(input).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SmtpReplyError);
    expect((error as SmtpReplyError).responseCode).toBe(451);
    expect((error as Error).cause).toMatchObject({ code: 'ENOSPC' });
    expect(await readdir(spoolDir('queue'))).toEqual([]);
    await waitFor(async () => ended);
  });

  it('answers 451 when the commit cannot write the message file, and leaves what it did not make', async () => {
    const draft = await spool.receive(Readable.from([MESSAGE]));
    // An ordinary message meets the disk at its commit: a folder in its place fails it (EISDIR).
    await mkdir(spoolDir('queue', `${draft.id}.eml`));

    const error = await draft.commit(FIELDS).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SmtpReplyError);
    expect((error as SmtpReplyError).reply).toMatch(/^451 4\.3\.0 /);
    expect((error as Error).cause).toMatchObject({ code: 'EISDIR' });
    expect(await readdir(spoolDir('queue'))).toEqual([`${draft.id}.eml`]);
    expect((await stat(spoolDir('queue', `${draft.id}.eml`))).isDirectory()).toBe(true);
  });
});

describe('receive streams instead of buffering', () => {
  it('has most of a 30 MB message on disk before the input has produced all of it', async () => {
    const chunkSize = 64 * 1024;
    const chunks = (30 * 1024 * 1024) / chunkSize;
    const chunk = Buffer.alloc(chunkSize, 0x61);
    let largestBacklog = 0;
    let produced = 0;
    async function* input(): AsyncGenerator<Buffer> {
      for (let i = 0; i < chunks; i += 1) {
        if (i % 32 === 31) {
          const [name] = await readdir(spoolDir('queue'));
          const onDisk = name === undefined ? 0 : (await stat(spoolDir('queue', name))).size;
          largestBacklog = Math.max(largestBacklog, produced - onDisk);
        }
        produced += chunk.length;
        yield chunk;
      }
    }

    const draft = await spool.receive(Readable.from(input()));

    expect(draft.size).toBe(30 * 1024 * 1024);
    expect((await stat(join(spoolDir('queue'), `${draft.id}.eml`))).size).toBe(30 * 1024 * 1024);
    // Backpressure bounds what is in memory to the stream buffers (about 1 MB here), whatever
    // the message size; a spool that buffered the message would have a backlog near 30 MB.
    expect(largestBacklog).toBeLessThan(4 * 1024 * 1024);
    await draft.discard();
  });
});

describe('update, remove, moveToFailed', () => {
  it('update writes the changed record beside the message, which keeps its bytes', async () => {
    const record = await spool.enqueueBuffer(MESSAGE, FIELDS);
    const committed = await readFile(spool.messagePath(record.id));
    const next = { ...record, attempts: 1, nextAttemptAt: '2026-11-22T09:05:00.000Z', lastReply: { code: 432, text: '4.3.2 Concurrent connections limit exceeded', at: record.receivedAt } };
    await spool.update(next);
    expect(JSON.parse(await readFile(spoolDir('queue', `${record.id}.json`), 'utf8'))).toEqual(next);
    expect(await readFile(spool.messagePath(record.id))).toEqual(committed);
    expect(await readdir(spoolDir('tmp'))).toEqual([]);
  });

  it('update refuses an invalid record and a removed message', async () => {
    const record = await spool.enqueueBuffer(MESSAGE, FIELDS);
    await expect(spool.update({ ...record, recipients: [] })).rejects.toThrow();
    await spool.remove(record.id);
    await expect(spool.update(record)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  it('remove deletes the message, and its record file when the record had changed', async () => {
    const untouched = await spool.enqueueBuffer(MESSAGE, FIELDS);
    const updated = await spool.enqueueBuffer(MESSAGE, FIELDS);
    await spool.update({ ...updated, attempts: 1 });
    expect(await readdir(spoolDir('queue'))).toHaveLength(3);

    await spool.remove(untouched.id);
    expect((await readdir(spoolDir('queue'))).sort()).toEqual([`${updated.id}.eml`, `${updated.id}.json`]);
    await spool.remove(updated.id);
    expect(await readdir(spoolDir('queue'))).toEqual([]);
  });

  it('moveToFailed writes the final record and moves both files', async () => {
    const record = await spool.enqueueBuffer(MESSAGE, FIELDS);
    const final = {
      ...record,
      attempts: 3,
      recipients: record.recipients.map((r) => ({ ...r, status: 'failed' as const, lastReply: { code: 550, text: '5.1.1 unknown', at: record.receivedAt } })),
    };
    await spool.moveToFailed(final);
    expect(await readdir(spoolDir('queue'))).toEqual([]);
    expect((await readdir(spoolDir('failed'))).sort()).toEqual([`${record.id}.eml`, `${record.id}.json`]);
    expect(JSON.parse(await readFile(spoolDir('failed', `${record.id}.json`), 'utf8'))).toEqual(final);
    expect(await readMessage({ path: spoolDir('failed', `${record.id}.eml`), size: record.size })).toEqual(MESSAGE);
  });
});

/** Polls a condition on real files (no time assertion: it only waits for something to happen). */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
