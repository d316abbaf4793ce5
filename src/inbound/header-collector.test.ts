import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { findHeaderEnd, HeaderCollector } from './header-collector.js';
import { headerFieldValues } from './header-fields.js';

/** Streams `chunks` through a collector; returns what came out and the header block kept. */
async function collect(chunks: readonly string[], limit?: number): Promise<{ passed: string; headerBlock: string }> {
  const collector = new HeaderCollector(limit);
  const passed = text(Readable.from(chunks.map((chunk) => Buffer.from(chunk))).pipe(collector));
  return { passed: await passed, headerBlock: collector.headerBlock };
}

describe('HeaderCollector', () => {
  it('passes every byte through and keeps only the header block (CRLF)', async () => {
    const message = 'From: a@x\r\nSubject: hi\r\n\r\nbody line\r\nFrom: not-a-header@x\r\n';
    const { passed, headerBlock } = await collect([message]);
    expect(passed).toBe(message);
    expect(headerBlock).toBe('From: a@x\r\nSubject: hi\r\n');
  });

  it('finds the end of the header block across chunk boundaries and with bare LF', async () => {
    const { passed, headerBlock } = await collect(['From: a@x\nSubject: hi\n', '\nbody\n']);
    expect(passed).toBe('From: a@x\nSubject: hi\n\nbody\n');
    expect(headerBlock).toBe('From: a@x\nSubject: hi\n');

    const split = await collect(['From: a@x\r\n\r', '\nbody\r\n']);
    expect(split.headerBlock).toBe('From: a@x\r\n');
  });

  it('has an empty header block when the message starts with an empty line', async () => {
    expect((await collect(['\r\nFrom: a@x\r\n'])).headerBlock).toBe('');
  });

  it('caps the copy at the limit and cuts it at the last complete line', async () => {
    const long = `From: a@x\r\nX-Filler: ${'y'.repeat(100)}\r\nX-Other: z\r\n\r\nbody`;
    const { passed, headerBlock } = await collect([long], 40);
    expect(passed).toBe(long);
    expect(headerBlock).toBe('From: a@x\r\n');
  });

  it('keeps UTF-8 header text intact (RFC 6532)', async () => {
    const { headerBlock } = await collect([Buffer.from('From: Élise <sage@contoso.com>\r\n\r\nx').toString()]);
    expect(headerBlock).toBe('From: Élise <sage@contoso.com>\r\n');
  });

  it('findHeaderEnd reports nothing until the empty line is there', () => {
    expect(findHeaderEnd(Buffer.from('From: a@x\r\nTo: b@x\r\n'))).toBeUndefined();
    expect(findHeaderEnd(Buffer.from('From: a@x\r\n\r\n'))).toBe(11);
  });
});

describe('headerFieldValues', () => {
  it('unfolds continuation lines and matches names case-insensitively (RFC 5322 2.2.3)', () => {
    const block = 'Subject: x\r\nFROM: "Sage,\r\n  Accounts" <sage@contoso.com>,\r\n\tinvoices@contoso.com\r\nfrom : second@x\r\n';
    expect(headerFieldValues(block, 'from')).toEqual([
      '"Sage,  Accounts" <sage@contoso.com>,\tinvoices@contoso.com',
      'second@x',
    ]);
  });

  it('handles bare LF and ignores lines that are not fields', () => {
    expect(headerFieldValues('X-Mailer: Sage\nFrom: a@x\n  (folded)\nnot a field\n', 'from')).toEqual(['a@x  (folded)']);
    expect(headerFieldValues('Reply-To: a@x\r\nX-From: b@x\r\n', 'from')).toEqual([]);
  });
});
