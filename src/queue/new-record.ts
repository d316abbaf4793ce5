/** The record of a message that has just been received: nothing tried yet, every recipient pending. */
import { QUEUE_RECORD_VERSION, type NewRecordFields, type QueueRecord } from '../core/queue-record.js';
import { isSafeQueueId } from './queue-id.js';

export type { NewRecordFields } from '../core/queue-record.js';

/**
 * Checks by hand what the types cannot say, so that a caller's mistake (no recipients) fails
 * here, not at the next start-up. The schema's parse did the same for 20 us of every accepted
 * message (docs/performance.md, "Where the time goes now (fourth sitting)"); recovery and the
 * queue commands still validate every record they read with it.
 */
export function buildRecord(id: string, size: number, fields: NewRecordFields, now: number): QueueRecord {
  if (!isSafeQueueId(id)) throw new Error(`Not a queue id: ${JSON.stringify(id)}`);
  if (fields.recipients.length === 0) throw new Error(`Message ${id} has no recipients`);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`Message ${id} has an impossible size: ${size}`);
  const at = new Date(now).toISOString();
  const client = fields.client.helo === undefined ? { address: fields.client.address } : { address: fields.client.address, helo: fields.client.helo };
  return {
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
  };
}
