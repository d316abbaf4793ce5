/** The record of a message that has just been received: nothing tried yet, every recipient pending. */
import { QUEUE_RECORD_VERSION, queueRecordSchema, type NewRecordFields, type QueueRecord } from '../core/queue-record.js';

export type { NewRecordFields } from '../core/queue-record.js';

export function buildRecord(id: string, size: number, fields: NewRecordFields, now: number): QueueRecord {
  const at = new Date(now).toISOString();
  const client = fields.client.helo === undefined ? { address: fields.client.address } : { ...fields.client };
  // parse() so that a caller's mistake (no recipients) fails here, not at the next start-up.
  return queueRecordSchema.parse({
    version: QUEUE_RECORD_VERSION,
    id,
    kind: fields.kind,
    account: fields.account,
    receivedAt: at,
    client,
    mailFrom: fields.mailFrom,
    size,
    recipients: fields.recipients.map((address) => ({ address, status: 'pending' })),
    attempts: 0,
    nextAttemptAt: at,
  } satisfies QueueRecord);
}
