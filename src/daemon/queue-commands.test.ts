import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { silentLogger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { auditLogPath, Spool } from '../queue/index.js';
import { QueueCommands, type LiveQueue, type RetryEntry } from './queue-commands.js';

describe('queue commands', () => {
  let dir: string;
  let clock: ManualClock;
  let spool: Spool;
  let record: QueueRecord;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'queue-commands-'));
    clock = new ManualClock();
    spool = (await Spool.open(dir, { logger: silentLogger(), clock })).spool;
    record = await spool.enqueueBuffer(Buffer.from('Subject: x\r\n\r\nbody\r\n'), { kind: 'message', account: 'sage', client: { address: '127.0.0.1' }, mailFrom: 'a@contoso.example', recipients: ['b@fabrikam.example'] });
  });

  afterEach(async () => {
    await spool.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function audit(): Promise<Array<Record<string, unknown>>> {
    return (await readFile(auditLogPath(dir), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('leaves an audit line (who, what, which id, when) for retry and delete', async () => {
    const commands = new QueueCommands(dir, undefined, clock);
    await spool.moveToFailed({ ...record, recipients: [{ address: 'b@fabrikam.example', status: 'failed' }] });
    const retried = (await commands.handle({ command: 'queue.retry', id: record.id })) as RetryEntry;
    expect(retried.folder).toBe('queue');
    expect(retried.waitingFor).toContain('not running');
    await commands.handle({ command: 'queue.delete', id: record.id });
    const lines = await audit();
    expect(lines.map((line) => [line.action, line.id, line.folder])).toEqual([
      ['queue.retry', record.id, 'failed'],
      ['queue.delete', record.id, 'queue'],
    ]);
    expect(lines[0]).toMatchObject({ at: new Date(clock.now()).toISOString(), account: 'sage', by: expect.stringContaining('directly on the spool') });
  });

  it('says when a retry will really go while the account is paused', async () => {
    const later = new Date(clock.now() + 300_000).toISOString();
    const live: LiveQueue = { retryNow: () => ({ at: later, waitingFor: 'the account is held-for-admin: SMTP AUTH is disabled' }), forget: () => true, enqueue: () => undefined };
    const retried = (await new QueueCommands(dir, live, clock).handle({ command: 'queue.retry', id: record.id })) as RetryEntry;
    expect(retried).toMatchObject({ willGoAt: later, waitingFor: expect.stringContaining('held-for-admin') });
    expect((await audit())[0]).toMatchObject({ action: 'queue.retry', by: expect.stringContaining('through the running relay') });
  });
});
