/**
 * The e-mail notice to administrators, as the raw RFC 5322 message the spool stores.
 * nodemailer's MailComposer builds it: it encodes non-ASCII header values per RFC 2047, picks
 * 7bit or quoted-printable for the body, and folds lines well under 998 octets (RFC 5322 2.1.1).
 */
import { randomUUID } from 'node:crypto';

export const NOTICE_SENDER_NAME = 'smtp-oauth-relay';
export const NOTICE_SUBJECT_PREFIX = '[smtp-oauth-relay]';

export interface NoticeContent {
  /** The mailbox that sends the notice (Exchange accepts only the signed-in mailbox or its send-as addresses). */
  readonly fromMailbox: string;
  readonly to: readonly string[];
  /** Headline without the prefix, e.g. "sage: sign-in expires in 7 days". */
  readonly summary: string;
  /** The body: plain text, paragraphs separated by blank lines. */
  readonly text: string;
  readonly date: Date;
  /** Host name for the Message-ID (RFC 5322 3.6.4: the right side should be unique to the host). */
  readonly hostname: string;
}

export async function composeNotice(content: NoticeContent): Promise<Buffer> {
  if (content.to.length === 0) throw new Error('a notice needs at least one recipient');
  // Imported here: notices are rare, and the daemon would otherwise load mail-composer at start.
  const { default: MailComposer } = await import('nodemailer/lib/mail-composer');
  const composer = new MailComposer({
    from: { name: NOTICE_SENDER_NAME, address: content.fromMailbox },
    to: [...content.to],
    // The summary may quote an error text from outside: keep it on one line (nodemailer also
    // replaces line breaks in header values, this does not rely on it).
    subject: `${NOTICE_SUBJECT_PREFIX} ${content.summary.replace(/[\r\n\0]+/g, ' ')}`,
    date: content.date,
    messageId: `<${randomUUID()}@${content.hostname.replace(/[^A-Za-z0-9.-]/g, '')}>`,
    text: content.text,
    headers: {
      // RFC 3834 section 5: marks a message that a program generated, so that auto-responders
      // (vacation replies) do not answer it.
      'Auto-Submitted': 'auto-generated',
      // Exchange and Outlook honour this instead of Auto-Submitted for out-of-office replies
      // ([MS-OXCMAIL] 2.2.3.2.14).
      'X-Auto-Response-Suppress': 'All',
    },
    // CRLF line ends, as SMTP DATA carries them (RFC 5321 2.3.8).
    newline: 'win',
  });
  return composer.compile().build();
}
