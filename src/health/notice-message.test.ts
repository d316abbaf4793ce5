import { describe, expect, it } from 'vitest';
import { composeNotice } from './notice-message.js';

/** Splits a raw message into unfolded headers (lower-case names) and the body. */
function parseMessage(raw: Buffer): { headers: Map<string, string[]>; body: string; lines: string[] } {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  const headers = new Map<string, string[]>();
  for (const field of text.slice(0, end).replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const colon = field.indexOf(':');
    expect(colon).toBeGreaterThan(0);
    const name = field.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), field.slice(colon + 1).trim()]);
  }
  return { headers, body: text.slice(end + 4), lines: text.split('\r\n') };
}

const content = {
  fromMailbox: 'sage@contoso.com',
  to: ['admin@contoso.com', 'it@contoso.com'],
  summary: 'sage: sign-in expires in 7 days',
  text: `The sign-in of account "sage" expires. ${'Long line of text. '.repeat(80)}\n\nNext step: run \`smtp-oauth-relay login --account sage\`.`,
  date: new Date(Date.UTC(2026, 10, 22, 9, 0, 0)),
  hostname: 'relay.contoso.com',
};

describe('composeNotice', () => {
  it('builds a valid RFC 5322 message marked as auto-generated, to the admins', async () => {
    const raw = await composeNotice(content);
    const { headers, body, lines } = parseMessage(raw);
    expect(headers.get('from')).toEqual(['"smtp-oauth-relay" <sage@contoso.com>']);
    expect(headers.get('to')).toEqual(['admin@contoso.com, it@contoso.com']);
    expect(headers.get('subject')).toEqual(['[smtp-oauth-relay] sage: sign-in expires in 7 days']);
    expect(headers.get('date')).toEqual(['Sun, 22 Nov 2026 09:00:00 +0000']);
    expect(headers.get('message-id')?.[0]).toMatch(/^<[^@\s]+@relay\.contoso\.com>$/);
    expect(headers.get('auto-submitted')).toEqual(['auto-generated']);
    expect(headers.get('mime-version')).toEqual(['1.0']);
    expect(headers.get('content-type')).toEqual(['text/plain; charset=utf-8']);
    // Lines end in CRLF only and stay within 998 octets (RFC 5322 2.1.1).
    expect(raw.toString('latin1')).not.toMatch(/[^\r]\n/);
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(998);
    const decoded = body.replace(/=\r\n/g, '');
    expect(decoded).toContain('smtp-oauth-relay login --account sage');
  });

  it('encodes a non-ASCII subject per RFC 2047 and the body as quoted-printable', async () => {
    const raw = await composeNotice({ ...content, summary: 'compta: connexion expirée', text: 'Connexion expirée.' });
    expect(raw.every((byte) => byte < 0x80)).toBe(true);
    const { headers, body } = parseMessage(raw);
    expect(headers.get('subject')?.[0]).toMatch(/^=\?UTF-8\?[QB]\?/);
    expect(headers.get('content-transfer-encoding')).toEqual(['quoted-printable']);
    expect(body).toContain('expir=C3=A9e');
  });

  it('refuses a notice without recipients', async () => {
    await expect(composeNotice({ ...content, to: [] })).rejects.toThrow(/recipient/);
  });
});
