/**
 * The replies a spool failure becomes. All are transient (4xx): the client keeps the message
 * and tries again, which is right when our disk, not the message, is the problem.
 * Enhanced codes from RFC 3463 section 3.
 */
import { SmtpReplyError } from '../core/errors.js';

/** X.3.0 "Other or undefined mail system status": the disk refused (full, I/O error, permissions). */
export function storeFailed(cause: unknown): SmtpReplyError {
  return new SmtpReplyError(451, '4.3.0', 'Could not store the message, try again later', { cause });
}

/** X.4.2 "Bad connection": the message stream broke before its end (the client went away). */
export function transferInterrupted(cause: unknown): SmtpReplyError {
  return new SmtpReplyError(451, '4.4.2', 'The message transfer was interrupted, try again later', { cause });
}

/** X.3.2 "System not accepting network messages": the spool is closing. */
export function spoolClosed(): SmtpReplyError {
  return new SmtpReplyError(451, '4.3.2', 'The relay is shutting down, try again later');
}
