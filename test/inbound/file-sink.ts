/**
 * A small real MessageSink for the inbound tests: streams each message to <dir>/tmp, and
 * commit renames it into <dir>/queue with a record beside it. Not the production spool
 * (src/queue), just enough to see what inbound keeps and what it throws away.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SmtpReplyError } from '../../src/core/errors.js';
import { inboundReplyCausedBy } from '../../src/core/inbound-replies.js';
import { QUEUE_RECORD_VERSION, type QueueRecord } from '../../src/core/queue-record.js';
import type { MessageSink, NewRecordFields, SpooledDraft } from '../../src/inbound/types.js';
import { withoutReceived } from './trace-field.js';

export class FileSink implements MessageSink {
  /** When set, writing fails like a full disk once this many bytes are written. */
  failAfterBytes: number | undefined;
  /** How each receive() ended, in order; see outcome(). */
  private readonly outcomes: Array<'resolved' | 'rejected'> = [];
  private readonly outcomeWaiters: Array<() => void> = [];

  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<FileSink> {
    await mkdir(join(dir, 'tmp'), { recursive: true });
    await mkdir(join(dir, 'queue'), { recursive: true });
    return new FileSink(dir);
  }

  async receive(message: Readable): Promise<SpooledDraft> {
    const id = randomBytes(8).toString('hex');
    const tmpPath = join(this.dir, 'tmp', `${id}.eml`);
    try {
      await pipeline(message, this.diskFault(), createWriteStream(tmpPath));
    } catch (err) {
      await rm(tmpPath, { force: true });
      this.record('rejected');
      if (err instanceof SmtpReplyError) throw err;
      throw inboundReplyCausedBy(err, 'store-failed');
    }
    this.record('resolved');
    const { size } = await stat(tmpPath);
    const queueDir = join(this.dir, 'queue');
    return {
      id,
      size,
      async commit(fields: NewRecordFields): Promise<QueueRecord> {
        const now = new Date().toISOString();
        const record: QueueRecord = {
          version: QUEUE_RECORD_VERSION,
          id,
          kind: fields.kind,
          account: fields.account,
          receivedAt: now,
          client: fields.client,
          mailFrom: fields.mailFrom,
          size,
          recipients: fields.recipients.map((address) => ({ address, status: 'pending' as const })),
          attempts: 0,
          nextAttemptAt: now,
        };
        await rename(tmpPath, join(queueDir, `${id}.eml`));
        await writeFile(join(queueDir, `${id}.json`), JSON.stringify(record));
        return record;
      },
      async discard(): Promise<void> {
        await rm(tmpPath, { force: true });
      },
    };
  }

  /** How the n-th receive() (0-based) ended, once it has: for tests with no reply to wait for. */
  async outcome(n: number): Promise<'resolved' | 'rejected'> {
    for (;;) {
      const known = this.outcomes[n];
      if (known !== undefined) return known;
      await new Promise<void>((resolve) => this.outcomeWaiters.push(resolve));
    }
  }

  private record(outcome: 'resolved' | 'rejected'): void {
    this.outcomes.push(outcome);
    for (const wake of this.outcomeWaiters.splice(0)) wake();
  }

  /** Names of the files in a state folder. */
  async files(state: 'tmp' | 'queue'): Promise<string[]> {
    return (await readdir(join(this.dir, state))).sort();
  }

  async queuedMessage(id: string): Promise<Buffer> {
    return readFile(join(this.dir, 'queue', `${id}.eml`));
  }

  /** The queued message without the Received field the relay adds: the client's bytes. */
  async clientMessage(id: string): Promise<Buffer> {
    return withoutReceived(await this.queuedMessage(id));
  }

  async queuedRecord(id: string): Promise<QueueRecord> {
    return JSON.parse(await readFile(join(this.dir, 'queue', `${id}.json`), 'utf8')) as QueueRecord;
  }

  private diskFault(): Transform {
    const limit = this.failAfterBytes;
    let written = 0;
    return new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        if (limit !== undefined && written > limit) {
          return callback(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        }
        callback(null, chunk);
      },
    });
  }
}
