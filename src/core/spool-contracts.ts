/**
 * What the spool (src/queue) gives the inbound listener, declared once: inbound never imports
 * the queue and the queue never imports inbound, so both import this shape from core.
 */
import type { NewRecordFields, QueueRecord } from './queue-record.js';

export type { NewRecordFields } from './queue-record.js';

/**
 * A received message that is not queued yet (no record at the end of its .eml; an ordinary one
 * still in memory): nothing is acknowledged until `commit` resolves. After a failed `commit`,
 * `discard` is still called and must be safe.
 */
export interface SpooledDraft {
  readonly id: string;
  /** Bytes received: the message's `size` in its record. */
  readonly size: number;
  /**
   * Writes the .eml (if it is not on disk yet) with the record at its end, and fsyncs it and
   * queue/. Returns the record: attempts 0, nextAttemptAt = now, every recipient pending.
   * On failure nothing stays behind and it rejects with a 451 `SmtpReplyError`
   * (the spool rows of src/core/inbound-replies.ts).
   */
  commit(fields: NewRecordFields): Promise<QueueRecord>;
  /** Drops what was received; safe after a failed commit. */
  discard(): Promise<void>;
}
