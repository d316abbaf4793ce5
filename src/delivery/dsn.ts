/**
 * Delivery status notifications (RFC 3464) for recipients that failed for good:
 * multipart/report; report-type=delivery-status (RFC 6522) with
 *   1. a human-readable text part: what failed, why (the catalogue condition's sentence, docs/exchange-replies.md), what to do;
 *   2. message/delivery-status: per-message and per-recipient fields (RFC 3464 sections 2.2, 2.3);
 *   3. text/rfc822-headers: the original header block only (RFC 6522 section 4; no body, so
 *      a bounce never re-sends a 35 MB attachment).
 * It is sent from the account's mailbox, the only sender Exchange accepts for that mailbox
 * without Send As rights, and is marked Auto-Submitted: auto-replied (RFC 3834 section 5).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { encode as encodeQp, wrap as wrapQp } from 'nodemailer/lib/qp';
import { readMessageStream, type MessageFile } from '../core/message-file.js';
import type { QueueRecord, RecordedReply } from '../core/queue-record.js';
import type { EnqueueFields } from './delivery-store.js';
import { EXPIRED_STATUS, enhancedCodeOf } from '../core/conditions/index.js';
import { recordedCondition } from './reply-classification.js';

/** Header blocks are small; a runaway one (no blank line) must not be read whole. */
export const MAX_HEADER_BYTES = 64 * 1024;

export { EXPIRED_STATUS } from '../core/conditions/index.js';

export interface DsnOptions {
  /** The record whose recipients failed; recipients with status 'failed' are reported. */
  readonly record: QueueRecord;
  /** The account's mailbox: the DSN's From and envelope sender. */
  readonly mailbox: string;
  /** Our host name for Reporting-MTA (RFC 3464 2.2.2). */
  readonly reportingHost: string;
  /** Header block of the original message (readHeaderBlock). */
  readonly originalHeaders: string;
  readonly now: Date;
}

export interface Dsn {
  readonly raw: Buffer;
  readonly fields: EnqueueFields;
}

/** The DSN for a record's failed recipients, ready for store.enqueueBuffer. */
export function composeDsn(options: DsnOptions): Dsn {
  const { record, mailbox, reportingHost, now } = options;
  const failed = record.recipients.filter((recipient) => recipient.status === 'failed');
  const boundary = `=_dsn_${randomBytes(12).toString('hex')}`;
  // Copied into a header of ours: no CR, LF or NUL of the original may end it and start
  // another field (a message spooled before the intake refused bare CR may still hold one).
  const subject = headerValue(options.originalHeaders, 'subject')?.replace(/[\r\n\0]+/g, ' ');
  const reports = failed.map((recipient) => describeRecipient(recipient.address, recipient.lastReply));

  const headers = [
    `From: Mail Delivery System <${mailbox}>`,
    `To: <${record.mailFrom}>`,
    `Subject: Undeliverable: ${subject ?? '(no subject)'}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${randomUUID()}@${reportingHost}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ];
  const human = humanText(record, reports, subject, reportingHost);
  const perMessage = [`Reporting-MTA: dns; ${reportingHost}`, `Arrival-Date: ${rfc5322Date(new Date(record.receivedAt))}`];
  const perRecipient = reports.map((report) =>
    [
      `Final-Recipient: rfc822; ${report.address}`,
      'Action: failed',
      `Status: ${report.status}`,
      `Diagnostic-Code: smtp; ${report.diagnostic}`,
      ...(report.at === undefined ? [] : [`Last-Attempt-Date: ${rfc5322Date(new Date(report.at))}`]),
    ].join('\r\n'),
  );

  const body = [
    ...headers,
    '',
    'This is a delivery status notification in MIME format (RFC 3464).',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    wrapQp(encodeQp(human), 76),
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    [perMessage.join('\r\n'), ...perRecipient].join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    toCrlf(options.originalHeaders).replace(/(\r\n)*$/, ''),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');

  return {
    raw: Buffer.from(body, 'utf8'),
    fields: {
      kind: 'dsn',
      account: record.account,
      client: { address: '127.0.0.1', helo: reportingHost },
      // RFC 3464 asks for a null reverse-path; Exchange's client submission needs the
      // authenticated mailbox instead. Loops are prevented by kind 'dsn' (never bounced) and
      // Auto-Submitted.
      mailFrom: mailbox,
      recipients: [record.mailFrom],
    },
  };
}

interface RecipientReport {
  readonly address: string;
  readonly status: string;
  readonly diagnostic: string;
  readonly meaning: string;
  readonly at: string | undefined;
}

function describeRecipient(address: string, reply: RecordedReply | undefined): RecipientReport {
  const text = oneLine(reply?.text ?? 'no reply recorded');
  const enhanced = enhancedCodeOf(text);
  const status = statusOf(reply?.code, enhanced);
  const diagnostic = reply?.code !== undefined && !text.startsWith(String(reply.code)) ? `${reply.code} ${text}` : text;
  // The condition recorded when the reply came (older records: the reply classified as then).
  const meaning =
    reply === undefined
      ? 'No reply was recorded.'
      : status === EXPIRED_STATUS && reply.condition === undefined
        ? 'The relay could not deliver the message before its queue lifetime ended (RFC 3463 4.4.7, delivery time expired).'
        : recordedCondition({ ...reply, text }).meaning;
  return { address, status, diagnostic, meaning, at: reply?.at };
}

/** RFC 3464 2.3.4: the enhanced code; 4.4.7 for an expired message; else from the reply class. */
function statusOf(code: number | undefined, enhanced: string | undefined): string {
  if (enhanced !== undefined && (enhanced.startsWith('5.') || enhanced === EXPIRED_STATUS)) return enhanced;
  if (code !== undefined && code >= 500) return '5.0.0';
  return enhanced ?? '5.0.0';
}

function humanText(record: QueueRecord, reports: readonly RecipientReport[], subject: string | undefined, host: string): string {
  const lines = [
    `This is the mail relay at ${host}.`,
    '',
    'Your message could not be delivered to the following recipient(s). It will not be retried.',
    '',
    `  Subject:  ${subject ?? '(no subject)'}`,
    `  Sent:     ${record.receivedAt}`,
    '',
  ];
  for (const report of reports) {
    lines.push(`${report.address}`, `  Why:    ${report.meaning}`, `  Reply:  ${report.diagnostic}`, '');
  }
  lines.push(
    'What to do: check the recipient addresses and send the message again. If the reason above',
    'says that an administrator must act (permissions, SMTP AUTH, a block), forward this report',
    'to your IT administrator.',
  );
  return lines.join('\r\n');
}

/**
 * Reads the original message up to the blank line that ends its header (RFC 5322 2.1), capped.
 * A message without a body ends at `size`, not at the end of its file, so what the spool keeps
 * after it never reaches the DSN.
 */
export async function readHeaderBlock(file: MessageFile, maxBytes = MAX_HEADER_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  const stream = readMessageStream(file, { highWaterMark: 16 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      const text = Buffer.concat(chunks).toString('latin1');
      const end = /\r?\n\r?\n/.exec(text);
      if (end !== null) return Buffer.from(text.slice(0, end.index), 'latin1').toString('utf8');
      if (length >= maxBytes) break;
    }
  } finally {
    stream.destroy();
  }
  const text = Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
  // Capped without finding the end: keep whole lines only.
  const lastBreak = text.lastIndexOf('\n');
  return length > maxBytes && lastBreak > 0 ? text.slice(0, lastBreak).replace(/\r$/, '') : text.replace(/\r?\n$/, '');
}

/** The unfolded value of the first header with this name (RFC 5322 2.2.3), or undefined. */
export function headerValue(headers: string, name: string): string | undefined {
  const unfolded = headers.replace(/\r?\n[ \t]+/g, ' ');
  const prefix = `${name.toLowerCase()}:`;
  const line = unfolded.split(/\r?\n/).find((candidate) => candidate.toLowerCase().startsWith(prefix));
  return line === undefined ? undefined : line.slice(prefix.length).trim();
}

/** "Sun, 22 Nov 2026 09:00:00 +0000" (RFC 5322 3.3). */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}

function toCrlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}
