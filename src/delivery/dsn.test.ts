import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageFile } from '../core/message-file.js';
import { QUEUE_RECORD_VERSION, type QueueRecord } from '../core/queue-record.js';
import { composeDsn, headerValue, readHeaderBlock } from './dsn.js';

const record: QueueRecord = {
  version: QUEUE_RECORD_VERSION,
  id: 'm1',
  kind: 'message',
  account: 'sage',
  receivedAt: '2026-11-22T09:00:00.000Z',
  client: { address: '127.0.0.1' },
  mailFrom: 'accounts@contoso.com',
  size: 10,
  recipients: [
    { address: 'ok@fabrikam.com', status: 'delivered', lastReply: { code: 250, text: '250 2.0.0 OK', at: '2026-11-22T09:00:01.000Z' } },
    { address: 'gone@fabrikam.com', status: 'failed', lastReply: { code: 550, text: '550 5.1.10 RESOLVER.ADR.RecipientNotFound', at: '2026-11-22T09:00:01.000Z' } },
  ],
  attempts: 1,
  nextAttemptAt: '2026-11-22T09:00:00.000Z',
};

describe('composeDsn', () => {
  const dsn = composeDsn({
    record,
    mailbox: 'sage@contoso.com',
    reportingHost: 'relay.contoso.local',
    originalHeaders: 'From: accounts@contoso.com\r\nSubject: Invoice\r\n 42\r\nMessage-ID: <orig@contoso.com>',
    now: new Date('2026-11-22T10:00:00Z'),
  });
  const text = dsn.raw.toString('utf8');

  it('is an RFC 3464 multipart/report from the mailbox to the original sender', () => {
    expect(text).toMatch(/^From: Mail Delivery System <sage@contoso\.com>\r\n/);
    expect(text).toContain('\r\nTo: <accounts@contoso.com>\r\n');
    expect(text).toContain('\r\nSubject: Undeliverable: Invoice 42\r\n');
    expect(text).toContain('\r\nAuto-Submitted: auto-replied\r\n');
    expect(text).toContain('\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n');
    expect(text).toMatch(/\r\nMessage-ID: <[0-9a-f-]+@relay\.contoso\.local>\r\n/);
    expect(text).toMatch(/Content-Type: multipart\/report; report-type=delivery-status; boundary="([^"]+)"/);
    expect(dsn.fields).toEqual({
      kind: 'dsn',
      account: 'sage',
      client: { address: '127.0.0.1', helo: 'relay.contoso.local' },
      mailFrom: 'sage@contoso.com',
      recipients: ['accounts@contoso.com'],
    });
  });

  it('reports only the failed recipients, with status and diagnostic', () => {
    const status = text.split('Content-Type: message/delivery-status\r\n\r\n')[1] ?? '';
    expect(status).toMatch(/^Reporting-MTA: dns; relay\.contoso\.local\r\nArrival-Date: Sun, 22 Nov 2026 09:00:00 \+0000\r\n\r\n/);
    expect(status).toContain('Final-Recipient: rfc822; gone@fabrikam.com\r\nAction: failed\r\nStatus: 5.1.10\r\nDiagnostic-Code: smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound');
    expect(text).not.toContain('ok@fabrikam.com');
  });

  it('explains in words and carries the original header block only', () => {
    expect(text).toContain('gone@fabrikam.com\r\n  Why:    The recipient address does not exist (RecipientNotFound).');
    expect(text).toContain('Content-Type: text/rfc822-headers\r\n\r\nFrom: accounts@contoso.com\r\nSubject: Invoice\r\n 42\r\nMessage-ID: <orig@contoso.com>\r\n');
  });
});

describe('readHeaderBlock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dsn-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The message in a file of its own, with `after` in the file behind it (as the spool keeps a record there). */
  async function spooled(name: string, message: string, after = ''): Promise<MessageFile> {
    const path = join(dir, name);
    await writeFile(path, message + after);
    return { path, size: Buffer.byteLength(message) };
  }

  it('stops at the blank line that ends the header', async () => {
    const file = await spooled('a.eml', `Subject: Hi\r\nFrom: a@b.c\r\n\r\nSECRET BODY\r\n${'x'.repeat(100_000)}`);
    expect(await readHeaderBlock(file)).toBe('Subject: Hi\r\nFrom: a@b.c');
  });

  it.each([
    ['with', 'Subject: Hi\r\nFrom: a@b.c\r\n', '{"not":"part of the message"}\n'],
    ['without', 'Subject: Hi\r\nFrom: a@b.c', '\n{"not":"part of the message"}\n'],
  ])('ends a message without a body (%s a last line break) at its size, not at what follows it in the file', async (_, message, after) => {
    const file = await spooled('headers-only.eml', message, after);
    expect(await readHeaderBlock(file)).toBe('Subject: Hi\r\nFrom: a@b.c');
  });

  it('caps a header without an end at whole lines', async () => {
    const file = await spooled('b.eml', Array.from({ length: 2000 }, (_, i) => `X-Line-${i}: ${'y'.repeat(60)}`).join('\r\n'));
    const block = await readHeaderBlock(file, 4096);
    expect(block.length).toBeLessThanOrEqual(4096);
    expect(block.split('\r\n').every((line) => /^X-Line-\d+: y{60}$/.test(line))).toBe(true);
  });

  it('unfolds header values', () => {
    expect(headerValue('Subject: a\r\n\tb\r\nFrom: x', 'subject')).toBe('a b');
    expect(headerValue('From: x', 'subject')).toBeUndefined();
  });
});
