/**
 * What the spool (src/queue) gives the inbound listener, declared once: inbound never imports
 * the queue and the queue never imports inbound, so both import this shape from core.
 */
import type { NewRecordFields, QueueRecord } from './queue-record.js';

export type { NewRecordFields } from './queue-record.js';

/**
 * A received message whose bytes are in tmp/ but not yet queued: nothing is acknowledged until
 * `commit` resolves. After a failed `commit`, `discard` is still called and must be safe.
 */
export interface SpooledDraft {
  readonly id: string;
  /** Bytes written, i.e. the size of the .eml. */
  readonly size: number;
  /**
   * Writes the record, moves .eml then .json into queue/ and fsyncs queue/.
   * Returns the record: attempts 0, nextAttemptAt = now, every recipient pending.
   * On failure nothing stays behind and it rejects with a 451 `SmtpReplyError`
   * (the spool rows of src/core/inbound-replies.ts).
   */
  commit(fields: NewRecordFields): Promise<QueueRecord>;
  /** Removes what was written in tmp/; safe after a failed commit. */
  discard(): Promise<void>;
}
