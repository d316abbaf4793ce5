/**
 * Crash safety: each test leaves the files exactly as a crash at one point would, then checks
 * that Spool.open recovers as the rule table of recovery.ts (docs/architecture.md, "Folders are
 * states") specifies, and that a committed message is never removed.
 *
 * Messages are committed through the real spool, so their files are exactly what a running relay
 * writes (queue/<id>.eml ending with its first record, record-trailer.ts); only the crash itself is
 * written by hand.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { serializeRecord } from './record-file.js';
import { readRecordTrailer, recordTrailer } from './record-trailer.js';
import { Spool, type NewRecordFields } from './spool.js';

const FIELDS: NewRecordFields = {
  kind: 'message',
  account: 'sage',
  client: { address: '127.0.0.1' },
  mailFrom: 'invoices@contoso.com',
  recipients: ['a@example.com'],
};

/** "#queue-record v1 " + 10 digits + "\n" (record-trailer.ts). */
const MARKER_BYTES = 28;

interface LogLine {
  level: number;
  msg: string;
  id?: string;
  file?: string;
  reason?: string;
}

let dataDir: string;
let clock: ManualClock;
let opened: Spool[];

const spoolDir = (...parts: string[]): string => join(dataDir, 'spool', ...parts);
const list = async (folder: string): Promise<string[]> => (await readdir(spoolDir(folder))).sort();
const sorted = (names: readonly string[]): string[] => [...names].sort();

/** Commits real messages through the spool, so the files are exactly what a running relay writes. */
async function commitMessages(count: number, ids?: string[]): Promise<QueueRecord[]> {
  const queue = [...(ids ?? [])];
  const { spool } = await Spool.open(dataDir, { logger: silentLogger(), clock, newId: (now) => queue.shift() ?? `m${now}x${queue.length}` });
  opened.push(spool);
  const records: QueueRecord[] = [];
  for (let i = 0; i < count; i += 1) {
    records.push(await spool.enqueueBuffer(Buffer.from(`Subject: message ${i}\r\n\r\nbody ${i}\r\n`), FIELDS));
    await clock.advance(1000);
  }
  await spool.close();
  return records;
}

/** A running spool, for what happens to a message after its commit (update, moveToFailed). */
async function runningSpool(): Promise<Spool> {
  const { spool } = await Spool.open(dataDir, { logger: silentLogger(), clock });
  opened.push(spool);
  return spool;
}

/** Reopens the spool as the daemon does at start-up, capturing its log lines. */
async function restart(): Promise<Awaited<ReturnType<typeof Spool.open>> & { logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  });
  const result = await Spool.open(dataDir, { logger: pino({ level: 'debug' }, sink), clock });
  opened.push(result.spool);
  return { ...result, logs };
}

/** The record after a deferral: what `spool.update` writes to queue/<id>.json. */
function deferred(record: QueueRecord): QueueRecord {
  return {
    ...record,
    attempts: 1,
    nextAttemptAt: new Date(Date.parse(record.nextAttemptAt) + 60_000).toISOString(),
    lastReply: { code: 451, text: '4.7.0 try again later', at: record.nextAttemptAt },
  };
}

/** The final record of a message given up on, as `moveToFailed` receives it. */
function failedRecord(record: QueueRecord): QueueRecord {
  const lastReply = { code: 550, text: '5.7.1 refused', at: record.nextAttemptAt };
  return { ...record, attempts: 3, lastReply, recipients: record.recipients.map((r) => ({ ...r, status: 'failed' as const, lastReply })) };
}

/** The record `queue retry` writes for a failed message (queue-admin.ts). */
function retriedRecord(record: QueueRecord): QueueRecord {
  const at = new Date(clock.now()).toISOString();
  const recipients = record.recipients.map((r) => ({ ...r, status: 'pending' as const }));
  return { ...record, recipients, attempts: 0, nextAttemptAt: at, lifetimeStartsAt: at };
}

/** The message bytes alone: the first `size` bytes of its .eml. */
async function messageBytes(record: QueueRecord): Promise<Buffer> {
  return (await readFile(spoolDir('queue', `${record.id}.eml`))).subarray(0, record.size);
}

/** Rewrites a committed message as a two-file spool (before one file per message) kept it: the .eml holds the message alone, the record is in the .json. */
async function asTwoFileSpool(record: QueueRecord): Promise<void> {
  await writeFile(spoolDir('queue', `${record.id}.eml`), await messageBytes(record));
  await writeFile(spoolDir('queue', `${record.id}.json`), serializeRecord(record));
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'recovery-'));
  clock = new ManualClock();
  opened = [];
});

afterEach(async () => {
  for (const spool of opened) await spool.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('Spool.open recovery', () => {
  it('keeps committed messages, one .eml each, and returns them oldest first whatever their file names', async () => {
    // Ids in reverse order of arrival: the order must come from receivedAt, not from the names.
    const records = await commitMessages(3, ['c', 'b', 'a']);
    const before = await Promise.all(['a', 'b', 'c'].map((id) => readFile(spoolDir('queue', `${id}.eml`))));
    const { records: recovered, report } = await restart();
    expect(recovered).toEqual(records);
    expect(recovered.map((r) => r.id)).toEqual(['c', 'b', 'a']);
    expect(report).toEqual({ queued: 3, removedLeftovers: [], quarantined: [], completedMoves: [] });
    // The record is at the end of the message file: a commit writes no .json.
    expect(await list('queue')).toEqual(['a.eml', 'b.eml', 'c.eml']);
    expect(await Promise.all(['a', 'b', 'c'].map((id) => readFile(spoolDir('queue', `${id}.eml`))))).toEqual(before);
    for (const record of records) expect(await readRecordTrailer(spoolDir('queue', `${record.id}.eml`))).toEqual(record);
  });

  it('crash during a record update (or a receive by an older relay, which wrote there): removes everything in tmp/', async () => {
    await commitMessages(0);
    await writeFile(spoolDir('tmp', 'x.eml'), 'half a message');
    await writeFile(spoolDir('tmp', 'x.json'), '{"version":1');
    await writeFile(spoolDir('tmp', '.y.json.1234.part'), '{}');
    await writeFile(spoolDir('tmp', 'z.json.retry'), '{}');
    const { records, report, logs } = await restart();
    expect(records).toEqual([]);
    expect(await list('tmp')).toEqual([]);
    expect(sorted(report.removedLeftovers)).toEqual(['tmp/.y.json.1234.part', 'tmp/x.eml', 'tmp/x.json', 'tmp/z.json.retry']);
    expect(logs.filter((l) => l.level === 40 && /interrupted write/.test(l.msg))).toHaveLength(4);
  });

  it('crash while receiving into queue/, before the commit: removes the .eml that has no record at its end', async () => {
    const [kept] = await commitMessages(1, ['kept']);
    await writeFile(spoolDir('queue', 'orphan.eml'), 'Subject: never committed\r\n\r\nhalf a bo');
    await writeFile(spoolDir('queue', 'created.eml'), '');
    const { records, report, logs } = await restart();
    expect(records).toEqual([kept]);
    expect(sorted(report.removedLeftovers)).toEqual(['queue/created.eml', 'queue/orphan.eml']);
    expect(report.quarantined).toEqual([]);
    expect(await list('queue')).toEqual(['kept.eml']);
    expect(logs.filter((l) => l.level === 40 && /never committed/.test(l.msg)).map((l) => l.file).sort()).toEqual(['queue/created.eml', 'queue/orphan.eml']);
  });

  it('crash before the commit fsync finished (the record cut short at the end): never acknowledged, removed', async () => {
    const records = await commitMessages(4, ['kept', 'nomarker', 'cutmarker', 'cutrecord']);
    const kept = records[0]!;
    const keptEml = await readFile(spoolDir('queue', 'kept.eml'));
    const eml = async (id: string): Promise<Buffer> => readFile(spoolDir('queue', `${id}.eml`));
    // What the disk may hold when the file's end had not reached it: every prefix of a committed file.
    await writeFile(spoolDir('queue', 'nomarker.eml'), (await eml('nomarker')).subarray(0, -MARKER_BYTES));
    await writeFile(spoolDir('queue', 'cutmarker.eml'), (await eml('cutmarker')).subarray(0, -10));
    await writeFile(spoolDir('queue', 'cutrecord.eml'), (await eml('cutrecord')).subarray(0, records[3]!.size + 20));
    const { records: recovered, report } = await restart();
    expect(recovered).toEqual([kept]);
    expect(sorted(report.removedLeftovers)).toEqual(['queue/cutmarker.eml', 'queue/cutrecord.eml', 'queue/nomarker.eml']);
    expect(report.quarantined).toEqual([]);
    expect(await list('queue')).toEqual(['kept.eml']);
    expect(await readFile(spoolDir('queue', 'kept.eml'))).toEqual(keptEml);
  });

  it('a marker at the end that frames no valid record (bytes lost inside the file): quarantined, content kept', async () => {
    const records = await commitMessages(4, ['kept', 'zeroed', 'holed', 'headless']);
    const damaged = new Map<string, Buffer>();
    const zeroed = await readFile(spoolDir('queue', 'zeroed.eml'));
    // A power cut that kept the file's last page but not the one before it: zeros where the record was.
    zeroed.fill(0, records[1]!.size + 1, zeroed.length - MARKER_BYTES - 1);
    damaged.set('zeroed', zeroed);
    const holed = await readFile(spoolDir('queue', 'holed.eml'));
    const jsonStart = records[2]!.size + 1;
    damaged.set('holed', Buffer.concat([holed.subarray(0, jsonStart + 20), holed.subarray(jsonStart + 40)]));
    // The marker frames more bytes than the file holds.
    damaged.set('headless', (await readFile(spoolDir('queue', 'headless.eml'))).subarray(-40));
    for (const [id, bytes] of damaged) await writeFile(spoolDir('queue', `${id}.eml`), bytes);

    const { records: recovered, report, logs } = await restart();
    expect(recovered).toEqual([records[0]]);
    expect(sorted(report.quarantined)).toEqual(['headless', 'holed', 'zeroed']);
    expect(report.removedLeftovers).toEqual([]);
    expect(await list('queue')).toEqual(['kept.eml']);
    expect(await list('quarantine')).toEqual(['headless.eml', 'holed.eml', 'zeroed.eml']);
    for (const [id, bytes] of damaged) expect(await readFile(spoolDir('quarantine', `${id}.eml`))).toEqual(bytes);
    expect(logs.filter((l) => l.level === 50 && /Quarantined/.test(l.msg)).map((l) => l.id).sort()).toEqual(['headless', 'holed', 'zeroed']);
  });

  it('a record at the end that names another id, is not a valid record or does not match the bytes before it: quarantined, content kept', async () => {
    const records = await commitMessages(4, ['original', 'wrongshape', 'wrongsize', 'wrongid']);
    const [original, wrongshape, wrongsize, wrongid] = records as [QueueRecord, QueueRecord, QueueRecord, QueueRecord];
    const originalEml = await readFile(spoolDir('queue', 'original.eml'));
    const damaged = new Map<string, Buffer>([
      ['wrongshape', Buffer.concat([await messageBytes(wrongshape), recordTrailer({ ...wrongshape, recipients: [] })])],
      ['wrongsize', Buffer.concat([await messageBytes(wrongsize), recordTrailer({ ...wrongsize, size: wrongsize.size - 1 })])],
      ['wrongid', Buffer.concat([await messageBytes(wrongid), recordTrailer({ ...wrongid, id: 'someoneelse' })])],
    ]);
    for (const [id, bytes] of damaged) await writeFile(spoolDir('queue', `${id}.eml`), bytes);
    // A file copied by hand under another name describes the original, not itself.
    await copyFile(spoolDir('queue', 'original.eml'), spoolDir('queue', 'copy.eml'));
    damaged.set('copy', originalEml);

    const { records: recovered, report, logs } = await restart();
    expect(recovered).toEqual([original]);
    expect(sorted(report.quarantined)).toEqual(['copy', 'wrongid', 'wrongshape', 'wrongsize']);
    expect(report.removedLeftovers).toEqual([]);
    expect(await list('queue')).toEqual(['original.eml']);
    expect(await readFile(spoolDir('queue', 'original.eml'))).toEqual(originalEml);
    expect(await list('quarantine')).toEqual(['copy.eml', 'wrongid.eml', 'wrongshape.eml', 'wrongsize.eml']);
    for (const [id, bytes] of damaged) expect(await readFile(spoolDir('quarantine', `${id}.eml`))).toEqual(bytes);
    expect(logs.find((l) => l.id === 'wrongsize' && l.level === 50)?.reason).toMatch(/end of its message file/);
  });

  it('a message whose record changed after its commit: its .json wins over the record at the end of the .eml', async () => {
    const [first, other] = await commitMessages(2, ['updated', 'other']);
    const spool = await runningSpool();
    const changed = deferred(first!);
    await spool.update(changed);
    await spool.close();
    const emlBefore = await readFile(spoolDir('queue', 'updated.eml'));

    const { records, report } = await restart();
    expect(records).toEqual([changed, other]);
    expect(report).toEqual({ queued: 2, removedLeftovers: [], quarantined: [], completedMoves: [] });
    expect(await list('queue')).toEqual(['other.eml', 'updated.eml', 'updated.json']);
    // The message file is written once: it still ends with the first record.
    expect(await readFile(spoolDir('queue', 'updated.eml'))).toEqual(emlBefore);
    expect(await readRecordTrailer(spoolDir('queue', 'updated.eml'))).toEqual(first);
  });

  it('a message committed by a two-file spool (the .eml holds the message alone, the record is its .json): queued, untouched', async () => {
    const [old, current] = await commitMessages(2, ['old', 'current']);
    await asTwoFileSpool(old!);
    const oldEml = await readFile(spoolDir('queue', 'old.eml'));
    const oldJson = await readFile(spoolDir('queue', 'old.json'));

    const { records, report } = await restart();
    expect(records).toEqual([old, current]);
    expect(report).toEqual({ queued: 2, removedLeftovers: [], quarantined: [], completedMoves: [] });
    expect(await list('queue')).toEqual(['current.eml', 'old.eml', 'old.json']);
    expect(await readFile(spoolDir('queue', 'old.eml'))).toEqual(oldEml);
    expect(await readFile(spoolDir('queue', 'old.json'))).toEqual(oldJson);
  });

  it('crash during a commit by a two-file spool, before its .json was created: the message alone is removed', async () => {
    const [kept, half] = await commitMessages(2, ['kept', 'half']);
    await writeFile(spoolDir('queue', 'half.eml'), await messageBytes(half!));
    const { records, report } = await restart();
    expect(records).toEqual([kept]);
    expect(report.removedLeftovers).toEqual(['queue/half.eml']);
    expect(await list('queue')).toEqual(['kept.eml']);
  });

  it('crash during a commit by a two-file spool, between creating its .json and writing it: removes both files', async () => {
    const [kept, half] = await commitMessages(2, ['kept', 'half']);
    await writeFile(spoolDir('queue', 'half.eml'), await messageBytes(half!));
    await writeFile(spoolDir('queue', 'half.json'), '');
    const { records, report, logs } = await restart();
    expect(records).toEqual([kept]);
    expect(sorted(report.removedLeftovers)).toEqual(['queue/half.eml', 'queue/half.json']);
    expect(report.quarantined).toEqual([]);
    expect(await list('queue')).toEqual(['kept.eml']);
    expect(await list('quarantine')).toEqual([]);
    expect(logs.some((l) => l.level === 40 && l.file === 'queue/half.eml' && /never committed/.test(l.msg))).toBe(true);
  });

  it('an empty .json beside a message whose record is at its end: the message is kept with that record, the .json removed', async () => {
    const [message] = await commitMessages(1, ['message']);
    const emlBefore = await readFile(spoolDir('queue', 'message.eml'));
    await writeFile(spoolDir('queue', 'message.json'), '');
    const { records, report } = await restart();
    expect(records).toEqual([message]);
    expect(report).toEqual({ queued: 1, removedLeftovers: ['queue/message.json'], quarantined: [], completedMoves: [] });
    expect(await list('queue')).toEqual(['message.eml']);
    expect(await readFile(spoolDir('queue', 'message.eml'))).toEqual(emlBefore);
  });

  it('an .eml that is not the message its .json describes (power cut, or cut by hand): both files quarantined', async () => {
    const records = await commitMessages(5, ['whole', 'short', 'long', 'resized', 'cut']);
    const [whole, short, long, resized, cut] = records as [QueueRecord, QueueRecord, QueueRecord, QueueRecord, QueueRecord];
    const spool = await runningSpool();
    for (const record of [long, resized, cut]) await spool.update(deferred(record));
    await spool.close();
    // A two-file spool wrote the .json after the .eml without ordering them on the disk.
    const shortMessage = await messageBytes(short);
    await asTwoFileSpool(short);
    await writeFile(spoolDir('queue', 'short.eml'), shortMessage.subarray(0, 5));
    await writeFile(spoolDir('queue', 'long.eml'), Buffer.concat([await readFile(spoolDir('queue', 'long.eml')), Buffer.from('x')]));
    await writeFile(spoolDir('queue', 'resized.json'), serializeRecord({ ...deferred(resized), size: resized.size + 7 }));
    // A .json is written only after the commit, so this message was acknowledged: damaged, not uncommitted.
    await writeFile(spoolDir('queue', 'cut.eml'), (await readFile(spoolDir('queue', 'cut.eml'))).subarray(0, -10));
    const quarantinedBytes = new Map<string, Buffer>();
    for (const id of ['short', 'long', 'resized', 'cut']) {
      for (const ext of ['eml', 'json']) quarantinedBytes.set(`${id}.${ext}`, await readFile(spoolDir('queue', `${id}.${ext}`)));
    }

    const { records: recovered, report, logs } = await restart();
    expect(recovered).toEqual([whole]);
    expect(sorted(report.quarantined)).toEqual(['cut', 'long', 'resized', 'short']);
    expect(report.removedLeftovers).toEqual([]);
    expect(await list('queue')).toEqual(['whole.eml']);
    expect(await list('quarantine')).toEqual([...quarantinedBytes.keys()].sort());
    for (const [name, bytes] of quarantinedBytes) expect(await readFile(spoolDir('quarantine', name))).toEqual(bytes);
    expect(logs.find((l) => l.level === 50 && l.id === 'short')?.reason).toMatch(/has 5 bytes/);
  });

  it('a .json that is not JSON: quarantines both files, keeps their content, logs an error', async () => {
    await commitMessages(2, ['good', 'bad']);
    const badEml = await readFile(spoolDir('queue', 'bad.eml'));
    await writeFile(spoolDir('queue', 'bad.json'), '{"version": 1, "id": "ba');
    const { records, report, logs } = await restart();
    expect(records.map((r) => r.id)).toEqual(['good']);
    expect(report.quarantined).toEqual(['bad']);
    expect(await list('queue')).toEqual(['good.eml']);
    expect(await list('quarantine')).toEqual(['bad.eml', 'bad.json']);
    expect(await readFile(spoolDir('quarantine', 'bad.eml'))).toEqual(badEml);
    expect(await readFile(spoolDir('quarantine', 'bad.json'), 'utf8')).toBe('{"version": 1, "id": "ba');
    expect(logs.some((l) => l.level === 50 && /Quarantined/.test(l.msg))).toBe(true);
  });

  it('a .json that parses but is not a valid record, or names another id: quarantined, even though the .eml ends with a good record', async () => {
    const [wrongshape] = await commitMessages(2, ['wrongshape', 'wrongid']);
    await writeFile(spoolDir('queue', 'wrongshape.json'), JSON.stringify({ ...wrongshape, recipients: [] }));
    await writeFile(spoolDir('queue', 'wrongid.json'), JSON.stringify({ ...wrongshape, id: 'someoneelse' }));
    const { records, report } = await restart();
    expect(records).toEqual([]);
    expect(sorted(report.quarantined)).toEqual(['wrongid', 'wrongshape']);
    expect(await list('queue')).toEqual([]);
    expect(await list('quarantine')).toEqual(['wrongid.eml', 'wrongid.json', 'wrongshape.eml', 'wrongshape.json']);
  });

  it('does not overwrite an earlier quarantined file of the same name', async () => {
    await commitMessages(1, ['twice']);
    await writeFile(spoolDir('queue', 'twice.json'), 'garbage 2');
    await writeFile(spoolDir('quarantine', 'twice.json'), 'garbage 1');
    await restart();
    expect(await readFile(spoolDir('quarantine', 'twice.json'), 'utf8')).toBe('garbage 1');
    expect(await readFile(spoolDir('quarantine', 'twice.json.1'), 'utf8')).toBe('garbage 2');
    expect(await list('quarantine')).toEqual(['twice.eml', 'twice.json', 'twice.json.1']);
  });

  it('crash while removing a delivered message, after its .eml went and before its .json: removes the .json', async () => {
    const [kept, delivered] = await commitMessages(2, ['kept', 'delivered']);
    const spool = await runningSpool();
    await spool.update(deferred(delivered!));
    await spool.close();
    await rm(spoolDir('queue', 'delivered.eml'));
    const { records, report, logs } = await restart();
    expect(records).toEqual([kept]);
    expect(report).toEqual({ queued: 1, removedLeftovers: ['queue/delivered.json'], quarantined: [], completedMoves: [] });
    expect(await list('queue')).toEqual(['kept.eml']);
    expect(await list('quarantine')).toEqual([]);
    expect(logs.some((l) => l.level === 40 && l.file === 'queue/delivered.json' && /removal was interrupted/.test(l.msg))).toBe(true);
  });

  it('crash between the two moves of moveToFailed: completes the move', async () => {
    const [record] = await commitMessages(1, ['moving']);
    const final = failedRecord(record!);
    const emlBefore = await readFile(spoolDir('queue', 'moving.eml'));
    // moveToFailed writes the final record first, then moves the .eml.
    const spool = await runningSpool();
    await spool.update(final);
    await spool.close();
    await rename(spoolDir('queue', 'moving.eml'), spoolDir('failed', 'moving.eml'));
    const { records, report, logs } = await restart();
    expect(records).toEqual([]);
    expect(report).toEqual({ queued: 0, removedLeftovers: [], quarantined: [], completedMoves: ['moving'] });
    expect(await list('queue')).toEqual([]);
    expect(await list('failed')).toEqual(['moving.eml', 'moving.json']);
    expect(JSON.parse(await readFile(spoolDir('failed', 'moving.json'), 'utf8'))).toEqual(final);
    expect(await readFile(spoolDir('failed', 'moving.eml'))).toEqual(emlBefore);
    expect(logs.some((l) => l.level === 40 && l.id === 'moving' && /move to failed/.test(l.msg))).toBe(true);
  });

  it('crash during queue retry after the .eml moved back, before its new record: rolls back to failed/ instead of queueing or deleting', async () => {
    const [record] = await commitMessages(1, ['retrying']);
    const final = failedRecord(record!);
    const spool = await runningSpool();
    await spool.moveToFailed(final);
    await spool.close();
    const emlBefore = await readFile(spoolDir('failed', 'retrying.eml'));
    // retryMessage: new record ready in tmp/, then the .eml back into queue/, where it still ends
    // with its first record (all recipients pending), which must not be taken for a queued message.
    await writeFile(spoolDir('tmp', 'retrying.json.retry'), serializeRecord(retriedRecord(final)));
    await rename(spoolDir('failed', 'retrying.eml'), spoolDir('queue', 'retrying.eml'));

    const { records, report, logs } = await restart();
    expect(records).toEqual([]);
    expect(report).toEqual({ queued: 0, removedLeftovers: ['tmp/retrying.json.retry'], quarantined: [], completedMoves: ['retrying'] });
    expect(await list('queue')).toEqual([]);
    expect(await list('failed')).toEqual(['retrying.eml', 'retrying.json']);
    expect(await readFile(spoolDir('failed', 'retrying.eml'))).toEqual(emlBefore);
    expect(JSON.parse(await readFile(spoolDir('failed', 'retrying.json'), 'utf8'))).toEqual(final);
    expect(logs.some((l) => l.level === 40 && l.id === 'retrying' && /Rolled back/.test(l.msg))).toBe(true);
  });

  it('crash during queue retry after the new record was committed: queues it and drops the stale failed/ record', async () => {
    const [record] = await commitMessages(1, ['retried']);
    const final = failedRecord(record!);
    const spool = await runningSpool();
    await spool.moveToFailed(final);
    await spool.close();
    const retried = retriedRecord(final);
    await rename(spoolDir('failed', 'retried.eml'), spoolDir('queue', 'retried.eml'));
    await writeFile(spoolDir('queue', 'retried.json'), serializeRecord(retried));

    const { records, report } = await restart();
    expect(records).toEqual([retried]);
    expect(report).toEqual({ queued: 1, removedLeftovers: [], quarantined: [], completedMoves: ['retried'] });
    expect(await list('failed')).toEqual([]);
    expect(await list('queue')).toEqual(['retried.eml', 'retried.json']);
  });

  it('crash during queue delete of a failed message, after its .eml went: removes its failed/ record, keeps the others', async () => {
    const [kept, deleting] = await commitMessages(2, ['kept', 'deleting']);
    const spool = await runningSpool();
    await spool.moveToFailed(failedRecord(kept!));
    await spool.moveToFailed(failedRecord(deleting!));
    await spool.close();
    await rm(spoolDir('failed', 'deleting.eml'));
    const { records, report, logs } = await restart();
    expect(records).toEqual([]);
    expect(report).toEqual({ queued: 0, removedLeftovers: ['failed/deleting.json'], quarantined: [], completedMoves: [] });
    expect(await list('failed')).toEqual(['kept.eml', 'kept.json']);
    expect(logs.some((l) => l.level === 40 && l.file === 'failed/deleting.json')).toBe(true);
  });

  it('leaves files it does not recognise alone', async () => {
    await commitMessages(0);
    await writeFile(spoolDir('queue', 'README.txt'), 'a note');
    await mkdir(spoolDir('queue', 'subfolder'));
    const { records } = await restart();
    expect(records).toEqual([]);
    expect(await list('queue')).toEqual(['README.txt', 'subfolder']);
  });

  it('every crash point at once: only the committed message is queued, and it is untouched', async () => {
    const records = await commitMessages(7, ['committed', 'corrupt', 'halfmoved', 'removing', 'retrying', 'deleting', 'cut']);
    const [committed, , halfmoved, removing, retrying, deleting] = records as QueueRecord[];
    const spool = await runningSpool();
    await spool.update(failedRecord(halfmoved!));
    await spool.update(deferred(removing!));
    await spool.moveToFailed(failedRecord(retrying!));
    await spool.moveToFailed(failedRecord(deleting!));
    await spool.close();
    const committedEml = await readFile(spoolDir('queue', 'committed.eml'));

    await writeFile(spoolDir('tmp', 'receiving.json'), 'partial');
    await writeFile(spoolDir('queue', 'uncommitted.eml'), 'no record');
    await writeFile(spoolDir('queue', 'cut.eml'), (await readFile(spoolDir('queue', 'cut.eml'))).subarray(0, -10));
    await writeFile(spoolDir('queue', 'corrupt.json'), 'not json');
    await rename(spoolDir('queue', 'halfmoved.eml'), spoolDir('failed', 'halfmoved.eml'));
    await rm(spoolDir('queue', 'removing.eml'));
    await rename(spoolDir('failed', 'retrying.eml'), spoolDir('queue', 'retrying.eml'));
    await rm(spoolDir('failed', 'deleting.eml'));

    const { records: recovered, report } = await restart();

    expect(recovered).toEqual([committed]);
    expect({ ...report, removedLeftovers: sorted(report.removedLeftovers), completedMoves: sorted(report.completedMoves) }).toEqual({
      queued: 1,
      removedLeftovers: ['failed/deleting.json', 'queue/cut.eml', 'queue/removing.json', 'queue/uncommitted.eml', 'tmp/receiving.json'],
      quarantined: ['corrupt'],
      completedMoves: ['halfmoved', 'retrying'],
    });
    expect(await readFile(spoolDir('queue', 'committed.eml'))).toEqual(committedEml);
    expect(await list('queue')).toEqual(['committed.eml']);
    expect(await list('failed')).toEqual(['halfmoved.eml', 'halfmoved.json', 'retrying.eml', 'retrying.json']);
    expect(await list('quarantine')).toEqual(['corrupt.eml', 'corrupt.json']);
    expect(await list('tmp')).toEqual([]);
  });
});
