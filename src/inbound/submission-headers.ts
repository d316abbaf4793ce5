/**
 * Date and Message-ID for messages that come without them, as a submission server should:
 * RFC 6409 8.3 (the MSA may add a Date field when it is missing) and 8.4 (it may add a
 * Message-ID). RFC 5322 3.6 requires Date and recommends Message-ID, and Exchange, spam
 * filters and mail clients treat a message without them as suspect or sort it wrongly.
 * Fields the client wrote are never touched, so a complete message passes byte for byte.
 *
 * A HeaderRewrite for HeaderRewriter (header-rewriter.ts): it gets the header block as latin1
 * text and adds ASCII only.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { headerFieldValues } from './header-fields.js';
import { EOL, type HeaderRewrite } from './header-rewriter.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const two = (n: number): string => String(n).padStart(2, '0');

/** RFC 5322 3.3 date-time in UTC, e.g. "Sun, 22 Nov 2026 09:00:00 +0000" (not the obsolete "GMT"). */
export function rfc5322Date(epochMs: number): string {
  const d = new Date(epochMs);
  const day = DAYS[d.getUTCDay()] ?? 'Sun';
  const month = MONTHS[d.getUTCMonth()] ?? 'Jan';
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  return `${day}, ${two(d.getUTCDate())} ${month} ${d.getUTCFullYear()} ${time} +0000`;
}

/**
 * RFC 5322 3.6.4 msg-id: "<" id-left "@" id-right ">", unique worldwide: 128 random bits on
 * the left, `host` on the right (reduced to the characters a dot-atom allows): listen.name or
 * the sending mailbox's domain (messageIdDomain), never the bare machine name, which says
 * nothing outside the LAN and leaks the machine's name into every message.
 */
export function newMessageId(host: string): string {
  const right = host.replace(/[^A-Za-z0-9.-]/g, '').replace(/^\.+|\.+$/g, '') || 'localhost';
  return `<${randomBytes(16).toString('hex')}@${right}>`;
}

/** The right side of a generated Message-ID: listen.name when set, else the mailbox's domain. */
export function messageIdDomain(listenName: string | undefined, mailbox: string): string {
  return listenName ?? mailbox.slice(mailbox.lastIndexOf('@') + 1);
}

/** Adds `Date:` and `Message-ID:` in front of the header fields when the message lacks them. */
export function addMissingDateAndMessageId(host: string, clock: Pick<Clock, 'now'>): HeaderRewrite {
  return (headerBlock) => {
    const eol = EOL;
    let added = '';
    // In front, not behind: the block may end in a folded line or be cut at the size cap
    // (header-rewriter.ts), and a field appended there could join someone else's field.
    if (headerFieldValues(headerBlock, 'date').length === 0) added += `Date: ${rfc5322Date(clock.now())}${eol}`;
    if (headerFieldValues(headerBlock, 'message-id').length === 0) added += `Message-ID: ${newMessageId(host)}${eol}`;
    return added + headerBlock;
  };
}
