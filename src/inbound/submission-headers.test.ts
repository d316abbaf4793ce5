import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { HeaderRewriter } from './header-rewriter.js';
import { addMissingDateAndMessageId, messageIdDomain, newMessageId, rfc5322Date } from './submission-headers.js';

const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 5, 7));
const rewrite = addMissingDateAndMessageId('relay.test', clock);

async function through(message: string | Buffer): Promise<Buffer> {
  const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message, 'latin1');
  // Small chunks: the header block must be found across chunk boundaries.
  const chunks = [];
  for (let at = 0; at < bytes.length; at += 7) chunks.push(bytes.subarray(at, at + 7));
  return buffer(Readable.from(chunks).pipe(new HeaderRewriter(rewrite)));
}

describe('Date and Message-ID (RFC 6409 8.3, 8.4)', () => {
  it('formats the date as RFC 5322 3.3 date-time', () => {
    expect(rfc5322Date(Date.UTC(2026, 10, 22, 9, 5, 7))).toBe('Sun, 22 Nov 2026 09:05:07 +0000');
    expect(rfc5322Date(Date.UTC(2027, 0, 1, 0, 0, 0))).toBe('Fri, 01 Jan 2027 00:00:00 +0000');
  });

  it('makes unique message ids on the relay host, with only dot-atom characters', () => {
    expect(newMessageId('relay.test')).toMatch(/^<[0-9a-f]{32}@relay\.test>$/);
    expect(newMessageId('relay.test')).not.toBe(newMessageId('relay.test'));
    expect(newMessageId('SAGE SERVER_01')).toMatch(/^<[0-9a-f]{32}@SAGESERVER01>$/);
    expect(newMessageId('')).toMatch(/@localhost>$/);
  });

  it('adds both in front of the fields when missing, with the message\'s line ending', async () => {
    const out = (await through('From: sage@contoso.com\r\nSubject: x\r\n\r\nbody\r\n')).toString('latin1');
    expect(out).toMatch(
      /^Date: Sun, 22 Nov 2026 09:05:07 \+0000\r\nMessage-ID: <[0-9a-f]{32}@relay\.test>\r\nFrom: sage@contoso\.com\r\nSubject: x\r\n\r\nbody\r\n$/,
    );
    // Bare LF from a device: the line discipline made it CRLF before the rewrite saw it.
    const bare = (await through('From: a@x\nSubject: y\n\nbody\n')).toString('latin1');
    expect(bare).toMatch(/^Date: [^\r\n]+\r\nMessage-ID: [^\r\n]+\r\nFrom: a@x\r\n/);
  });

  it('takes the Message-ID domain from listen.name, else from the mailbox, never the machine name', () => {
    expect(messageIdDomain('relay.contoso.com', 'sage@contoso.com')).toBe('relay.contoso.com');
    expect(messageIdDomain(undefined, 'sage@contoso.com')).toBe('contoso.com');
  });

  it('adds only what is missing, whatever the case of the field name', async () => {
    const onlyDate = (await through('DATE: Mon, 23 Nov 2026 10:00:00 +0100\r\nFrom: a@x\r\n\r\nb\r\n')).toString('latin1');
    expect(onlyDate).toMatch(/^Message-ID: <[^>]+>\r\nDATE: Mon, 23 Nov 2026/);
    expect(onlyDate.match(/^date:/gim)).toHaveLength(1);
    const onlyId = (await through('message-id: <1@x>\r\nFrom: a@x\r\n\r\nb\r\n')).toString('latin1');
    expect(onlyId).toMatch(/^Date: Sun, 22 Nov 2026 09:05:07 \+0000\r\nmessage-id: <1@x>\r\n/);
  });

  it('passes a message that has both through byte for byte, 8-bit bytes and all', async () => {
    const message = Buffer.concat([
      Buffer.from('Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <a@b>\r\nFrom: \xc9lise <a@x>\r\n', 'latin1'),
      Buffer.from(`X-Long: ${'z'.repeat(5000)}\r\nX-Folded: ${'w'.repeat(2000)}\r\n ${'v'.repeat(3000)}\r\n\r\n`),
      Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80, 0x0d, 0x0a]),
    ]);
    expect((await through(message)).equals(message)).toBe(true);
  });

  it('keeps a 5,000-character header line intact when it adds fields', async () => {
    const long = `X-Long: ${'q'.repeat(5000)}`;
    const out = (await through(`From: a@x\r\n${long}\r\n\r\nb\r\n`)).toString('latin1');
    expect(out.endsWith(`From: a@x\r\n${long}\r\n\r\nb\r\n`)).toBe(true);
  });
});
