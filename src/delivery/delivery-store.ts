/**
 * What delivery needs from the spool. src/queue satisfies it structurally; delivery never
 * imports the queue (imports point one way: daemon -> parts -> core).
 */
import type { QueueRecord } from '../core/queue-record.js';

export interface EnqueueFields {
  readonly kind: 'message' | 'dsn';
  readonly account: string;
  readonly client: { readonly address: string; readonly helo?: string };
  readonly mailFrom: string;
  readonly recipients: string[];
}

export interface DeliveryStore {
  /** Durably rewrites the record (fsync before resolving). */
  update(record: QueueRecord): Promise<void>;
  /** The message reached every recipient: forget it. */
  remove(id: string): Promise<void>;
  /** Final failure: keep it in failed/ for the administrator. */
  moveToFailed(record: QueueRecord): Promise<void>;
  /** Path of the immutable .eml to send. */
  messagePath(id: string): string;
  /** Spools a message we generated (a DSN) exactly like an accepted one. */
  enqueueBuffer(raw: Buffer, fields: EnqueueFields): Promise<QueueRecord>;
}
