/**
 * Where a message's header block ends, and the refusals for a header block that cannot be read
 * one way only. The input is always CRLF-only (line-discipline.ts), so there is exactly one
 * rule: the block ends at the first empty line, CRLF CRLF (RFC 5322 2.1), or at once when the
 * message starts with CRLF (no header fields at all).
 */
import { SmtpReplyError } from '../core/errors.js';
import { inboundReply } from '../core/inbound-replies.js';

/**
 * Far above what real header blocks use (a few KiB; long Received chains stay under 64 KiB),
 * small enough to hold per connection. A header block that has not ended by then is refused:
 * passing the rest on as body would let a From field after the limit reach Exchange unchecked.
 */
export const DEFAULT_HEADER_LIMIT = 256 * 1024;

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** Length of the header fields (without the empty line), or undefined if the end is not in `bytes` yet. */
export function findHeaderEnd(bytes: Buffer, searchFrom = 0): number | undefined {
  if (bytes.length >= 2 && bytes.subarray(0, 2).equals(CRLF)) return 0;
  const at = bytes.indexOf(CRLF_CRLF, Math.max(0, searchFrom));
  return at < 0 ? undefined : at + 2;
}

/** RFC 3463 5.6.0: other or undefined media error; the sentence says what to change. */
export function headerBlockRefusal(reason: 'bare-cr' | 'nul' | 'too-long' | 'leading-space', limit = DEFAULT_HEADER_LIMIT): SmtpReplyError {
  switch (reason) {
    case 'bare-cr':
      return inboundReply('header-bare-cr');
    case 'nul':
      return inboundReply('header-nul');
    case 'too-long':
      return inboundReply('header-too-long', limit);
    case 'leading-space':
      return inboundReply('header-leading-space');
  }
}
