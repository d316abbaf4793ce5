/**
 * The oracle of the header-forgery and fuzz tests: reads the exact bytes the upstream received
 * as a strict RFC 5322 reader would, and says which sender addresses Exchange or a mail client
 * could take from them. It is deliberately independent of the relay's own reading (no
 * src/inbound import): fields end at CRLF only; any other CR or LF in the header section is a
 * problem by itself (a reader could split there); every field whose name is From, Sender,
 * Resent-From or Resent-Sender (white space around the name ignored, any case) counts; and each
 * such body is read twice, by an RFC 5322 grammar (email-addresses) and by nodemailer's lenient
 * addressparser, and the addresses of both readings are reported.
 */
import emailAddresses from 'email-addresses';
import addressparser from 'nodemailer/lib/addressparser';

export const SENDER_FIELD_NAMES = ['from', 'sender', 'resent-from', 'resent-sender'] as const;

export interface UpstreamReading {
  /** Everything that makes the header section readable in more than one way. */
  readonly problems: string[];
  /** Field name (lower case) and every address any of the two readers found in it. */
  readonly senders: Array<{ readonly field: string; readonly address: string }>;
  readonly fromCount: number;
}

export function readAsExchange(raw: Buffer): UpstreamReading {
  const text = raw.toString('latin1');
  const end = text.startsWith('\r\n') ? 0 : text.indexOf('\r\n\r\n');
  const header = end < 0 ? text : text.slice(0, end + (end === 0 ? 0 : 2));
  const problems: string[] = [];
  if (/\r(?!\n)|(?<!\r)\n/.test(header)) problems.push('bare CR or LF in the header section');
  if (header.includes('\0')) problems.push('NUL in the header section');
  if (/^[ \t]/.test(header)) problems.push('header section starts with white space');
  const senders: Array<{ field: string; address: string }> = [];
  let fromCount = 0;
  for (const field of header.split(/\r\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    if (colon <= 0) continue;
    const name = field.slice(0, colon).replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase();
    if (!(SENDER_FIELD_NAMES as readonly string[]).includes(name)) continue;
    if (name === 'from') fromCount += 1;
    const body = Buffer.from(field.slice(colon + 1).replace(/\r\n(?=[ \t])/g, ''), 'latin1').toString('utf8').trim();
    const strict = emailAddresses({ input: body, startAt: 'address-list', rfc6532: true });
    if (strict === null) problems.push(`${name} is not an address list: ${JSON.stringify(body)}`);
    for (const entry of strict?.addresses ?? []) {
      for (const mailbox of entry.type === 'group' ? entry.addresses : [entry]) senders.push({ field: name, address: mailbox.address });
    }
    for (const mailbox of addressparser(body, { flatten: true })) if (mailbox.address !== '') senders.push({ field: name, address: mailbox.address });
  }
  if (fromCount !== 1) problems.push(`${fromCount} From fields`);
  return { problems, senders, fromCount };
}

/** ASCII case folding, as Exchange compares SMTP addresses. */
export const foldAscii = (address: string): string => address.replace(/[A-Z]/g, (letter) => letter.toLowerCase());

/** The addresses read from `raw` that are not in `allowed`, plus the problems: [] means "safe". */
export function forgeries(raw: Buffer, allowed: readonly string[]): string[] {
  const reading = readAsExchange(raw);
  const permitted = new Set(allowed.map(foldAscii));
  return [...reading.problems, ...reading.senders.filter((s) => !permitted.has(foldAscii(s.address.trim()))).map((s) => `${s.field}: ${s.address}`)];
}
