/**
 * The replies a spool failure becomes. All are transient (4xx): the client keeps the message
 * and tries again, which is right when our disk, not the message, is the problem.
 * The rows, with their RFC 3463 codes, are in src/core/inbound-replies.ts (one table with inbound's).
 */
import type { SmtpReplyError } from '../core/errors.js';
import { inboundReply, inboundReplyCausedBy } from '../core/inbound-replies.js';

/** X.3.0 "Other or undefined mail system status": the disk refused (full, I/O error, permissions). */
export function storeFailed(cause: unknown): SmtpReplyError {
  return inboundReplyCausedBy(cause, 'store-failed');
}

/** X.4.2 "Bad connection": the message stream broke before its end (the client went away). */
export function transferInterrupted(cause: unknown): SmtpReplyError {
  return inboundReplyCausedBy(cause, 'transfer-interrupted');
}

/** X.3.2 "System not accepting network messages": the spool is closing. */
export function spoolClosed(): SmtpReplyError {
  return inboundReply('spool-closed');
}
