/**
 * The spool as delivery sees it, in memory (with real .eml files for DSN headers), for the
 * scheduler's tests; the real one is src/queue/spool.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MessageFile } from '../../src/core/message-file.js';
import { QUEUE_RECORD_VERSION, type QueueRecord } from '../../src/core/queue-record.js';
import type { DeliveryStore, EnqueueFields } from '../../src/delivery/delivery-store.js';
import type { ManualClock } from './manual-clock.js';

export class MemoryStore implements DeliveryStore {
  readonly records = new Map<string, QueueRecord>();
  readonly updates: QueueRecord[] = [];
  readonly removed: string[] = [];
  readonly failed: QueueRecord[] = [];
  readonly enqueued: Array<{ raw: Buffer; fields: EnqueueFields; record: QueueRecord }> = [];
  private next = 0;

  constructor(
    readonly dir: string,
    private readonly clock: ManualClock,
  ) {}

  async add(id: string, recipients: string[], options: { kind?: QueueRecord['kind']; receivedAt?: number; subject?: string } = {}): Promise<QueueRecord> {
    const at = new Date(options.receivedAt ?? this.clock.now()).toISOString();
    const raw = Buffer.from(`From: accounts@contoso.com\r\nSubject: ${options.subject ?? 'Invoice 42'}\r\n\r\nbody\r\n`);
    await writeFile(this.pathOf(id), raw);
    const record: QueueRecord = {
      version: QUEUE_RECORD_VERSION,
      id,
      kind: options.kind ?? 'message',
      account: 'sage',
      receivedAt: at,
      client: { address: '127.0.0.1' },
      mailFrom: 'accounts@contoso.com',
      // The real length: readers stop at `size` (src/core/message-file.ts).
      size: raw.length,
      recipients: recipients.map((address) => ({ address, status: 'pending' })),
      attempts: 0,
      nextAttemptAt: at,
    };
    this.records.set(id, record);
    return record;
  }

  async update(record: QueueRecord): Promise<void> {
    this.updates.push(structuredClone(record));
    this.records.set(record.id, structuredClone(record));
  }
  async remove(id: string): Promise<void> {
    this.removed.push(id);
    this.records.delete(id);
  }
  async moveToFailed(record: QueueRecord): Promise<void> {
    this.failed.push(structuredClone(record));
    this.records.delete(record.id);
  }
  messageFile(record: QueueRecord): MessageFile {
    return { path: this.pathOf(record.id), size: record.size };
  }
  private pathOf(id: string): string {
    return join(this.dir, `${id}.eml`);
  }
  async enqueueBuffer(raw: Buffer, fields: EnqueueFields): Promise<QueueRecord> {
    const id = `dsn${(this.next += 1)}`;
    await writeFile(this.pathOf(id), raw);
    const at = new Date(this.clock.now()).toISOString();
    const record: QueueRecord = {
      version: QUEUE_RECORD_VERSION,
      id,
      kind: fields.kind,
      account: fields.account,
      receivedAt: at,
      client: { ...fields.client },
      mailFrom: fields.mailFrom,
      size: raw.length,
      recipients: fields.recipients.map((address) => ({ address, status: 'pending' })),
      attempts: 0,
      nextAttemptAt: at,
    };
    this.enqueued.push({ raw, fields, record });
    this.records.set(id, record);
    return record;
  }
}

