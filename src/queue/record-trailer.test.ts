/**
 * The record at the end of a message file: what a commit appends, and what start-up recovery and
 * the queue commands read back (recovery.ts, queued-record.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { QueueRecord } from '../core/queue-record.js';
import { buildRecord } from './new-record.js';
import { InvalidRecordError } from './record-file.js';
import { readRecordTrailer, recordTrailer } from './record-trailer.js';

const MESSAGE = Buffer.from('Subject: hello\r\n\r\nbody\r\n');
const NOW = Date.UTC(2026, 10, 22, 9, 0, 0);

let dir: string;

function record(id: string, size: number, recipients = ['a@example.com']): QueueRecord {
  return buildRecord(id, size, { kind: 'message', account: 'sage', client: { address: '127.0.0.1' }, mailFrom: 'invoices@contoso.com', recipients }, NOW);
}

/** Writes `<id>.eml` as a commit leaves it: the message, then its record's trailer. */
async function committed(id: string, message: Buffer, first: QueueRecord): Promise<string> {
  const path = join(dir, `${id}.eml`);
  await writeFile(path, Buffer.concat([message, recordTrailer(first)]));
  return path;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'record-trailer-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('recordTrailer', () => {
  it('is a newline, the record on one line, and a marker giving its length in 10 digits', () => {
    const first = record('abc', MESSAGE.length);
    const json = JSON.stringify(first);
    expect(recordTrailer(first).toString('utf8')).toBe(`\n${json}\n#queue-record v1 ${String(json.length).padStart(10, '0')}\n`);
  });

  it('counts the record in bytes, not characters', async () => {
    // Non-ASCII in an envelope takes more bytes than characters in UTF-8.
    const first = { ...record('utf8', MESSAGE.length), mailFrom: 'rené@exämple.com' };
    const jsonBytes = Buffer.byteLength(JSON.stringify(first));
    expect(recordTrailer(first).subarray(-11, -1).toString()).toBe(String(jsonBytes).padStart(10, '0'));
    expect(await readRecordTrailer(await committed('utf8', MESSAGE, first))).toEqual(first);
  });
});

describe('readRecordTrailer', () => {
  it('reads back the record a commit appended', async () => {
    const first = record('abc', MESSAGE.length);
    expect(await readRecordTrailer(await committed('abc', MESSAGE, first))).toEqual(first);
  });

  it('reads the record after an empty message and after one larger than its first read', async () => {
    const empty = record('empty', 0);
    expect(await readRecordTrailer(await committed('empty', Buffer.alloc(0), empty))).toEqual(empty);
    const large = Buffer.alloc(100 * 1024, 'x');
    const first = record('large', large.length);
    expect(await readRecordTrailer(await committed('large', large, first))).toEqual(first);
  });

  it('reads a record larger than its first read of the file (400 recipients)', async () => {
    const recipients = Array.from({ length: 400 }, (_, i) => `recipient-number-${i}@a-long-domain-name.example.com`);
    const first = record('many', MESSAGE.length, recipients);
    expect(recordTrailer(first).length).toBeGreaterThan(16 * 1024);
    expect(await readRecordTrailer(await committed('many', MESSAGE, first))).toEqual(first);
  });

  it('is undefined for a file that does not end with a marker: never committed, or a message of a two-file spool', async () => {
    const first = record('cut', MESSAGE.length);
    const whole = Buffer.concat([MESSAGE, recordTrailer(first)]);
    const cases = new Map<string, Buffer>([
      ['alone', MESSAGE],
      ['empty', Buffer.alloc(0)],
      ['tiny', Buffer.from('x')],
      ['cut', whole.subarray(0, -10)],
      ['nomarker', whole.subarray(0, -28)],
      ['newline', whole.subarray(0, -1)],
    ]);
    for (const [id, bytes] of cases) {
      const path = join(dir, `${id}.eml`);
      await writeFile(path, bytes);
      expect(await readRecordTrailer(path), id).toBeUndefined();
    }
  });

  it('rejects with InvalidRecordError a marker that frames more bytes than the file holds', async () => {
    const path = join(dir, 'short.eml');
    await writeFile(path, `\n{}\n#queue-record v1 ${'500'.padStart(10, '0')}\n`);
    await expect(readRecordTrailer(path)).rejects.toThrow(InvalidRecordError);
    await expect(readRecordTrailer(path)).rejects.toThrow(/more than the file holds/);
  });

  it('rejects with InvalidRecordError a marker whose record is not JSON, not framed, not a record, of another id or another size', async () => {
    const first = record('bad', MESSAGE.length);
    const json = Buffer.from(JSON.stringify(first));
    const marker = `#queue-record v1 ${String(json.length).padStart(10, '0')}\n`;
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.concat([MESSAGE, Buffer.from('\n'), Buffer.alloc(json.length), Buffer.from(`\n${marker}`)]), /not valid JSON/],
      [Buffer.concat([MESSAGE, Buffer.from(' '), json, Buffer.from(`\n${marker}`)]), /not framed by newlines/],
      [Buffer.concat([MESSAGE, recordTrailer({ ...first, recipients: [] })]), /not a queue record/],
      [Buffer.concat([MESSAGE, recordTrailer({ ...first, id: 'other' })]), /holds the id other/],
      [Buffer.concat([MESSAGE, recordTrailer({ ...first, size: MESSAGE.length + 1 })]), /says \d+ bytes/],
    ];
    const path = join(dir, 'bad.eml');
    for (const [bytes, reason] of cases) {
      await writeFile(path, bytes);
      await expect(readRecordTrailer(path)).rejects.toThrow(InvalidRecordError);
      await expect(readRecordTrailer(path)).rejects.toThrow(reason);
    }
  });

  it('lets a missing file fail with ENOENT', async () => {
    await expect(readRecordTrailer(join(dir, 'missing.eml'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
