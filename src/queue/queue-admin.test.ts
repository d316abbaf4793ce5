import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { deleteMessage, findMessage, listQueue, MessageNotFoundError, retryMessage } from './queue-admin.js';
import { Spool } from './spool.js';

let dataDir: string;
let clock: ManualClock;
let spool: Spool;

const spoolDir = (...parts: string[]): string => join(dataDir, 'spool', ...parts);

async function enqueue(id: string, recipients = ['a@example.com']): Promise<QueueRecord> {
  const ids = [id];
  const opened = await Spool.open(dataDir, { logger: silentLogger(), clock, newId: () => ids.shift() ?? 'unused' });
  const record = await opened.spool.enqueueBuffer(Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`), {
    kind: 'message',
    account: 'sage',
    client: { address: '127.0.0.1' },
    mailFrom: 'invoices@contoso.com',
    recipients,
  });
  await opened.spool.close();
  await clock.advance(1000);
  return record;
}

/** A message the relay gave up on: one recipient delivered, one refused. */
async function failedMessage(id: string): Promise<QueueRecord> {
  const record = await enqueue(id, ['delivered@example.com', 'refused@example.com']);
  const final: QueueRecord = {
    ...record,
    attempts: 4,
    recipients: [
      { address: 'delivered@example.com', status: 'delivered' },
      { address: 'refused@example.com', status: 'failed', lastReply: { code: 550, text: '5.1.10 not found', at: record.receivedAt } },
    ],
  };
  await spool.moveToFailed(final);
  return final;
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'queue-admin-'));
  clock = new ManualClock();
  spool = (await Spool.open(dataDir, { logger: silentLogger(), clock })).spool;
});

afterEach(async () => {
  await spool.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('listQueue', () => {
  it('lists each folder oldest first, each with its newest record, and skips what is not a committed message', async () => {
    const second = await enqueue('zzz');
    await clock.advance(-5000); // an older message with a later-sorting name
    const first = await enqueue('aaa');
    const failed = await failedMessage('fff');
    // The record changed after the commit: the .json beside the message is the record now.
    const updated = { ...second, attempts: 2 };
    await spool.update(updated);
    await writeFile(spoolDir('queue', 'broken.eml'), 'Subject: x\r\n\r\n');
    await writeFile(spoolDir('queue', 'broken.json'), 'not json');
    // Being received: no record at its end yet.
    await writeFile(spoolDir('queue', 'receiving.eml'), 'Subject: half a mess');
    // Left by an interrupted removal: the message is gone.
    await writeFile(spoolDir('queue', 'gone.json'), JSON.stringify({ ...first, id: 'gone' }));

    expect(await listQueue(dataDir, 'queue')).toEqual([first, updated]);
    expect(await listQueue(dataDir, 'failed')).toEqual([failed]);
    expect(await findMessage(dataDir, 'gone')).toBeUndefined();
    expect(await findMessage(dataDir, 'receiving')).toBeUndefined();
  });

  it('is empty when there is no spool yet', async () => {
    expect(await listQueue(join(dataDir, 'elsewhere'), 'queue')).toEqual([]);
  });
});

describe('findMessage', () => {
  it('finds a message in queue/ or failed/ with the path of its .eml', async () => {
    const queued = await enqueue('q1');
    const failed = await failedMessage('f1');
    expect(await findMessage(dataDir, 'q1')).toEqual({ record: queued, folder: 'queue', emlPath: spoolDir('queue', 'q1.eml') });
    expect(await findMessage(dataDir, 'f1')).toEqual({ record: failed, folder: 'failed', emlPath: spoolDir('failed', 'f1.eml') });
    expect(await readFile(spoolDir('failed', 'f1.eml'), 'utf8')).toMatch(/^Subject: f1/);
  });

  it('does not find unknown or unsafe ids', async () => {
    await writeFile(join(dataDir, 'outside.json'), '{}');
    expect(await findMessage(dataDir, 'nothere')).toBeUndefined();
    expect(await findMessage(dataDir, '../../outside')).toBeUndefined();
  });
});

describe('retryMessage', () => {
  it('in queue/: makes the message due now', async () => {
    const record = await enqueue('later');
    await spool.update({ ...record, attempts: 2, nextAttemptAt: '2026-11-23T00:00:00.000Z' });
    const now = Date.UTC(2026, 10, 22, 12, 0, 0);

    const retried = await retryMessage(dataDir, 'later', now);

    expect(retried.nextAttemptAt).toBe('2026-11-22T12:00:00.000Z');
    expect(retried.attempts).toBe(2);
    expect((await findMessage(dataDir, 'later'))?.record).toEqual(retried);
  });

  it('in failed/: recipients not delivered are pending again and the message is back in queue/', async () => {
    await failedMessage('back');
    const now = new Date(Date.UTC(2026, 10, 22, 12, 0, 0));

    const retried = await retryMessage(dataDir, 'back', now);

    expect(retried.attempts).toBe(0);
    expect(retried.nextAttemptAt).toBe(now.toISOString());
    // A full lifetime again, or delivery would expire it at once and bounce it a second time.
    expect(retried.lifetimeStartsAt).toBe(now.toISOString());
    expect(retried.recipients.map((r) => [r.address, r.status])).toEqual([
      ['delivered@example.com', 'delivered'],
      ['refused@example.com', 'pending'],
    ]);
    expect(await readdir(spoolDir('failed'))).toEqual([]);
    expect(await readdir(spoolDir('tmp'))).toEqual([]);
    // The daemon would pick it up at its next start.
    const reopened = await Spool.open(dataDir, { logger: silentLogger(), clock });
    await reopened.spool.close();
    expect(reopened.records).toEqual([retried]);
    expect(reopened.report.completedMoves).toEqual([]);
  });

  it('refuses a message delivered to everyone, and an unknown id', async () => {
    const record = await enqueue('done');
    await spool.moveToFailed({ ...record, recipients: record.recipients.map((r) => ({ ...r, status: 'delivered' as const })) });
    await expect(retryMessage(dataDir, 'done', clock.now())).rejects.toThrow(/nothing to retry/);
    await expect(retryMessage(dataDir, 'nothere', clock.now())).rejects.toBeInstanceOf(MessageNotFoundError);
  });
});

describe('deleteMessage', () => {
  it('removes a message from queue/ or failed/', async () => {
    await enqueue('q2');
    await failedMessage('f2');
    await deleteMessage(dataDir, 'q2');
    await deleteMessage(dataDir, 'f2');
    expect(await readdir(spoolDir('queue'))).toEqual([]);
    expect(await readdir(spoolDir('failed'))).toEqual([]);
  });

  it('reports an unknown id', async () => {
    await expect(deleteMessage(dataDir, 'nothere')).rejects.toBeInstanceOf(MessageNotFoundError);
  });
});
