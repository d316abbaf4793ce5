/**
 * Crash safety: each test leaves the files exactly as a crash at one point would, then checks
 * that Spool.open recovers as docs/architecture.md ("Folders are states") specifies, and that a committed message is never removed.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { Spool, type NewRecordFields } from './spool.js';

const FIELDS: NewRecordFields = {
  kind: 'message',
  account: 'sage',
  client: { address: '127.0.0.1' },
  mailFrom: 'invoices@contoso.com',
  recipients: ['a@example.com'],
};

let dataDir: string;
let clock: ManualClock;
let opened: Spool[];

const spoolDir = (...parts: string[]): string => join(dataDir, 'spool', ...parts);
const list = async (folder: string): Promise<string[]> => (await readdir(spoolDir(folder))).sort();

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

/** Reopens the spool as the daemon does at start-up, capturing its log lines. */
async function restart(): Promise<Awaited<ReturnType<typeof Spool.open>> & { logs: Array<{ level: number; msg: string }> }> {
  const logs: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  const result = await Spool.open(dataDir, { logger: pino({ level: 'debug' }, sink), clock });
  opened.push(result.spool);
  return { ...result, logs };
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
  it('keeps committed messages and returns them oldest first, whatever their file names', async () => {
    // Ids in reverse order of arrival: the order must come from receivedAt, not from the names.
    const records = await commitMessages(3, ['c', 'b', 'a']);
    const { records: recovered, report } = await restart();
    expect(recovered).toEqual(records);
    expect(recovered.map((r) => r.id)).toEqual(['c', 'b', 'a']);
    expect(report).toEqual({ queued: 3, removedLeftovers: [], quarantined: [], completedMoves: [] });
    expect(await list('queue')).toEqual(['a.eml', 'a.json', 'b.eml', 'b.json', 'c.eml', 'c.json']);
  });

  it('crash during a record update (or a receive by version 0.1.0, which wrote there): removes everything in tmp/', async () => {
    await commitMessages(0);
    await writeFile(spoolDir('tmp', 'x.eml'), 'half a message');
    await writeFile(spoolDir('tmp', 'x.json'), '{"version":1');
    await writeFile(spoolDir('tmp', '.y.json.1234.part'), '{}');
    const { records, report, logs } = await restart();
    expect(records).toEqual([]);
    expect(await list('tmp')).toEqual([]);
    expect(report.removedLeftovers.sort()).toEqual(['tmp/.y.json.1234.part', 'tmp/x.eml', 'tmp/x.json']);
    expect(logs.filter((l) => l.level === 40 && /interrupted write/.test(l.msg))).toHaveLength(3);
  });

  it('crash while receiving into queue/, before the record was made: removes the uncommitted .eml', async () => {
    const [kept] = await commitMessages(1, ['kept']);
    await writeFile(spoolDir('queue', 'orphan.eml'), 'never committed');
    const { records, report } = await restart();
    expect(records).toEqual([kept]);
    expect(report.removedLeftovers).toEqual(['queue/orphan.eml']);
    expect(await list('queue')).toEqual(['kept.eml', 'kept.json']);
  });

  it('crash between creating the record and writing it: removes the empty record and its .eml', async () => {
    const [kept] = await commitMessages(2, ['kept', 'half']);
    await writeFile(spoolDir('queue', 'half.json'), '');
    const { records, report, logs } = await restart();
    expect(records).toEqual([kept]);
    expect(report.removedLeftovers.sort()).toEqual(['queue/half.eml', 'queue/half.json']);
    expect(report.quarantined).toEqual([]);
    expect(await list('queue')).toEqual(['kept.eml', 'kept.json']);
    expect(logs.some((l) => l.level === 40 && /record is empty/.test(l.msg))).toBe(true);
  });

  it('an .eml that is not as long as its record says (power cut before its fsync): quarantined, not delivered', async () => {
    await commitMessages(3, ['whole', 'short', 'long']);
    const short = await readFile(spoolDir('queue', 'short.eml'));
    await writeFile(spoolDir('queue', 'short.eml'), short.subarray(0, 5));
    await writeFile(spoolDir('queue', 'long.eml'), Buffer.concat([await readFile(spoolDir('queue', 'long.eml')), Buffer.from('x')]));
    const { records, report, logs } = await restart();
    expect(records.map((r) => r.id)).toEqual(['whole']);
    expect(report.quarantined.sort()).toEqual(['long', 'short']);
    expect(await list('quarantine')).toEqual(['long.eml', 'long.json', 'short.eml', 'short.json']);
    expect(logs.some((l) => l.level === 50 && /5 bytes/.test(JSON.stringify(l)))).toBe(true);
  });

  it('a .json that is not JSON: quarantines both files, keeps their content, logs an error', async () => {
    await commitMessages(2, ['good', 'bad']);
    await writeFile(spoolDir('queue', 'bad.json'), '{"version": 1, "id": "ba');
    const { records, report, logs } = await restart();
    expect(records.map((r) => r.id)).toEqual(['good']);
    expect(report.quarantined).toEqual(['bad']);
    expect(await list('queue')).toEqual(['good.eml', 'good.json']);
    expect(await list('quarantine')).toEqual(['bad.eml', 'bad.json']);
    expect(await readFile(spoolDir('quarantine', 'bad.eml'), 'utf8')).toMatch(/^Subject: message 1/);
    expect(await readFile(spoolDir('quarantine', 'bad.json'), 'utf8')).toBe('{"version": 1, "id": "ba');
    expect(logs.some((l) => l.level === 50 && /Quarantined/.test(l.msg))).toBe(true);
  });

  it('a .json that parses but is not a valid record, or names another id: quarantined', async () => {
    await commitMessages(2, ['wrongshape', 'wrongid']);
    const record = JSON.parse(await readFile(spoolDir('queue', 'wrongshape.json'), 'utf8')) as QueueRecord;
    await writeFile(spoolDir('queue', 'wrongshape.json'), JSON.stringify({ ...record, recipients: [] }));
    await writeFile(spoolDir('queue', 'wrongid.json'), JSON.stringify({ ...record, id: 'someoneelse' }));
    const { records, report } = await restart();
    expect(records).toEqual([]);
    expect(report.quarantined.sort()).toEqual(['wrongid', 'wrongshape']);
    expect(await list('queue')).toEqual([]);
    expect(await list('quarantine')).toEqual(['wrongid.eml', 'wrongid.json', 'wrongshape.eml', 'wrongshape.json']);
  });

  it('a .json whose .eml is missing (and not a move): quarantined, never deleted', async () => {
    await commitMessages(1, ['lost']);
    await rm(spoolDir('queue', 'lost.eml'));
    const { records, report } = await restart();
    expect(records).toEqual([]);
    expect(report.quarantined).toEqual(['lost']);
    expect(await list('quarantine')).toEqual(['lost.json']);
  });

  it('does not overwrite an earlier quarantined file of the same name', async () => {
    await commitMessages(1, ['twice']);
    await writeFile(spoolDir('queue', 'twice.json'), 'garbage 2');
    await writeFile(spoolDir('quarantine', 'twice.json'), 'garbage 1');
    await restart();
    expect(await readFile(spoolDir('quarantine', 'twice.json'), 'utf8')).toBe('garbage 1');
    expect(await readFile(spoolDir('quarantine', 'twice.json.1'), 'utf8')).toBe('garbage 2');
  });

  it('crash between the two renames of moveToFailed: completes the move', async () => {
    const [record] = await commitMessages(1, ['moving']);
    const final = { ...record!, recipients: record!.recipients.map((r) => ({ ...r, status: 'failed' as const })) };
    await writeFile(spoolDir('queue', 'moving.json'), JSON.stringify(final));
    await rename(spoolDir('queue', 'moving.eml'), spoolDir('failed', 'moving.eml'));
    const { records, report } = await restart();
    expect(records).toEqual([]);
    expect(report.completedMoves).toEqual(['moving']);
    expect(await list('queue')).toEqual([]);
    expect(await list('failed')).toEqual(['moving.eml', 'moving.json']);
    expect(JSON.parse(await readFile(spoolDir('failed', 'moving.json'), 'utf8'))).toEqual(final);
  });

  it('crash during queue retry after the .eml moved back: rolls back to failed/ instead of deleting', async () => {
    await commitMessages(1, ['retrying']);
    await rename(spoolDir('queue', 'retrying.json'), spoolDir('failed', 'retrying.json'));
    const { records, report } = await restart();
    expect(records).toEqual([]);
    expect(report.completedMoves).toEqual(['retrying']);
    expect(report.removedLeftovers).toEqual([]);
    expect(await list('failed')).toEqual(['retrying.eml', 'retrying.json']);
  });

  it('crash during queue retry after the new record was committed: drops the stale failed/ record', async () => {
    const [record] = await commitMessages(1, ['retried']);
    await writeFile(spoolDir('failed', 'retried.json'), 'old record');
    const { records, report } = await restart();
    expect(records).toEqual([record]);
    expect(report.completedMoves).toEqual(['retried']);
    expect(await list('failed')).toEqual([]);
    expect(await list('queue')).toEqual(['retried.eml', 'retried.json']);
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
    const [committed] = await commitMessages(3, ['committed', 'corrupt', 'halfmoved']);
    const committedEml = await readFile(spoolDir('queue', 'committed.eml'));
    await writeFile(spoolDir('tmp', 'receiving.eml'), 'partial');
    await writeFile(spoolDir('queue', 'uncommitted.eml'), 'no record');
    await writeFile(spoolDir('queue', 'corrupt.json'), 'not json');
    await rename(spoolDir('queue', 'halfmoved.eml'), spoolDir('failed', 'halfmoved.eml'));

    const { records, report } = await restart();

    expect(records).toEqual([committed]);
    expect(report).toEqual({
      queued: 1,
      removedLeftovers: ['tmp/receiving.eml', 'queue/uncommitted.eml'],
      quarantined: ['corrupt'],
      completedMoves: ['halfmoved'],
    });
    expect(await readFile(spoolDir('queue', 'committed.eml'))).toEqual(committedEml);
    expect(await list('queue')).toEqual(['committed.eml', 'committed.json']);
  });
});
