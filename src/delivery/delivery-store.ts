/**
 * What delivery needs from the spool. src/queue satisfies it structurally; delivery never
 * imports the queue (imports point one way: daemon -> parts -> core).
 */
import type { MessageFile } from '../core/message-file.js';
import type { NewRecordFields, QueueRecord } from '../core/queue-record.js';

/** What a generated message (a DSN) is queued with. */
export type EnqueueFields = NewRecordFields;

export interface DeliveryStore {
  /** Durably rewrites the record (fsync before resolving). */
  update(record: QueueRecord): Promise<void>;
  /** The message reached every recipient: forget it. */
  remove(id: string): Promise<void>;
  /** Final failure: keep it in failed/ for the administrator. */
  moveToFailed(record: QueueRecord): Promise<void>;
  /**
   * Where the immutable message to send is: the first `size` bytes of its file, which may hold
   * more after them (src/core/message-file.ts), so it is read with readMessage/readMessageStream.
   */
  messageFile(record: QueueRecord): MessageFile;
  /** Spools a message we generated (a DSN) exactly like an accepted one. */
  enqueueBuffer(raw: Buffer, fields: EnqueueFields): Promise<QueueRecord>;
}
