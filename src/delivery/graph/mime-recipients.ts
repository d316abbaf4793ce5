/**
 * The header block of a spooled message, for sendMail with MIME: its To/Cc/Bcc recipients, and
 * the same message with those three fields replaced (graph-recipients.ts says why). Only the
 * header block is touched; the body stays byte for byte. Header bytes are handled as latin1 so
 * that 8-bit header octets pass through unchanged.
 */
import addressparser from 'nodemailer/lib/addressparser';
import type { HeaderRecipients, NamedAddress } from './graph-recipients.js';

const RECIPIENT_FIELD = /^(to|cc|bcc)$/i;

interface HeaderField {
  readonly name: string;
  /** The field's lines as they are, folding included, each with its CRLF. */
  readonly raw: string;
}

export function recipientsInHeader(message: Buffer): HeaderRecipients {
  const fields = headerFields(message).fields;
  const of = (name: string): NamedAddress[] =>
    fields
      .filter((field) => field.name.toLowerCase() === name)
      .flatMap((field) => addressparser(unfold(field.raw.slice(field.raw.indexOf(':') + 1)), { flatten: true }))
      .filter((entry) => entry.address !== '')
      .map((entry) => ({ address: entry.address, ...(entry.name === '' ? {} : { name: entry.name }) }));
  return { to: of('to'), cc: of('cc'), bcc: of('bcc') };
}

/** The message with To, Cc and Bcc replaced by `recipients` (empty fields omitted). */
export function withRecipients(message: Buffer, recipients: HeaderRecipients): Buffer {
  const { fields, bodyStart } = headerFields(message);
  const kept = fields.filter((field) => !RECIPIENT_FIELD.test(field.name)).map((field) => field.raw);
  const added = (['to', 'cc', 'bcc'] as const)
    .filter((name) => recipients[name].length > 0)
    .map((name) => `${name === 'to' ? 'To' : name === 'cc' ? 'Cc' : 'Bcc'}: ${recipients[name].map(formatAddress).join(',\r\n ')}\r\n`);
  return Buffer.concat([Buffer.from([...added, ...kept].join(''), 'latin1'), message.subarray(bodyStart)]);
}

function headerFields(message: Buffer): { fields: HeaderField[]; bodyStart: number } {
  const end = message.indexOf('\r\n\r\n');
  const bodyStart = end === -1 ? message.length : end + 2;
  const text = message.subarray(0, bodyStart).toString('latin1');
  const fields: HeaderField[] = [];
  for (const line of text.split(/(?<=\r\n)/)) {
    const previous = fields[fields.length - 1];
    if (/^[ \t]/.test(line) && previous !== undefined) {
      fields[fields.length - 1] = { name: previous.name, raw: previous.raw + line };
      continue;
    }
    if (line === '') continue;
    fields.push({ name: line.slice(0, Math.max(0, line.indexOf(':'))).trim(), raw: line });
  }
  return { fields, bodyStart };
}

function unfold(value: string): string {
  return value.replace(/\r\n(?=[ \t])/g, '').trim();
}

/** RFC 5322 3.4 mailbox: a display name quoted unless it is an RFC 2047 encoded word (which must not be quoted). */
function formatAddress(entry: NamedAddress): string {
  const name = entry.name;
  if (name === undefined || name === '') return entry.address;
  if (/^=\?[^?]+\?[bq]\?[^?]*\?=$/i.test(name)) return `${name} <${entry.address}>`;
  if (/^[\x20-\x7e]*$/.test(name)) return `"${name.replace(/(["\\])/g, '\\$1')}" <${entry.address}>`;
  return `=?UTF-8?B?${Buffer.from(name, 'utf8').toString('base64')}?= <${entry.address}>`;
}
