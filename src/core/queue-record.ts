/**
 * The small versioned JSON file that sits beside each spooled message (<id>.json beside <id>.eml).
 * It is the message's whole state: envelope, per-recipient outcome, attempts and schedule.
 * The message itself (.eml) is written once and never changed.
 */
import { z } from 'zod';

export const QUEUE_RECORD_VERSION = 1;

const replySchema = z.object({
  /** Basic reply code, absent for network errors. */
  code: z.number().int().optional(),
  /** The reply text or the error message, as received. */
  text: z.string(),
  at: z.string(),
});
export type RecordedReply = z.infer<typeof replySchema>;

const recipientSchema = z.object({
  address: z.string(),
  /** pending: still to send; delivered: Exchange took it; failed: permanently refused. */
  status: z.enum(['pending', 'delivered', 'failed']),
  lastReply: replySchema.optional(),
});
export type RecipientState = z.infer<typeof recipientSchema>;

export const queueRecordSchema = z.object({
  version: z.literal(QUEUE_RECORD_VERSION),
  id: z.string().regex(/^[A-Za-z0-9_-]+$/),
  /** message: from a client; dsn: a delivery status notification we generated (never bounced itself). */
  kind: z.enum(['message', 'dsn']),
  /** Name of the configured account that sends it. */
  account: z.string(),
  receivedAt: z.string(),
  /**
   * Start of the queue lifetime when it is not receivedAt: set when an operator retries a
   * failed message, so that it gets a full lifetime again instead of expiring at once.
   */
  lifetimeStartsAt: z.string().optional(),
  client: z.object({ address: z.string(), helo: z.string().optional() }),
  mailFrom: z.string(),
  /** Size of the .eml in bytes. */
  size: z.number().int().nonnegative(),
  recipients: z.array(recipientSchema).min(1),
  attempts: z.number().int().nonnegative(),
  nextAttemptAt: z.string(),
  lastReply: replySchema.optional(),
});
export type QueueRecord = z.infer<typeof queueRecordSchema>;

/** The envelope and origin that turn a received message into a queue record. */
export interface NewRecordFields {
  readonly kind: QueueRecord['kind'];
  /** Name of the configured account that sends it. */
  readonly account: string;
  readonly client: { readonly address: string; readonly helo?: string };
  readonly mailFrom: string;
  readonly recipients: readonly string[];
}

export function pendingRecipients(record: QueueRecord): string[] {
  return record.recipients.filter((r) => r.status === 'pending').map((r) => r.address);
}
