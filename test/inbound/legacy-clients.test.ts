/**
 * Stubborn legacy clients against a real inbound listener: bare LF line endings, HELO-only
 * printers with 8-bit bodies, pipelined sessions, 5,000-character header lines, and the
 * per-client limits (listen.perClient) over real sockets.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { generateCertificate } from '../../src/inbound/local-tls.js';
import { ManualClock } from '../support/manual-clock.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { startHarness, type Harness } from './harness.js';

type Started = Harness & { clock: ManualClock };

let cleanup: (() => Promise<void>) | undefined;

afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function start(listen: Record<string, unknown> = {}): Promise<Started> {
  const clock = new ManualClock();
  const harness = await startHarness(listen, silentLogger(), { clock });
  cleanup = () => harness.stop();
  return { ...harness, clock };
}

function queuedId(reply: string): string {
  const match = /^250 2\.0\.0 queued as ([A-Za-z0-9_-]+)$/.exec(reply);
  if (match?.[1] === undefined) throw new Error(`not a queued reply: ${reply}`);
  return match[1];
}

/** Sends `raw` and reads `count` replies; returns their last lines. */
async function exchange(wire: SmtpWire, raw: string | Buffer, count: number): Promise<string[]> {
  wire.write(raw);
  const replies: string[] = [];
  for (let i = 0; i < count; i++) replies.push((await wire.reply()).last);
  return replies;
}

/** Date and Message-ID present, so the stored bytes are the client's bytes (submission-headers.ts). */
const STAMPS = 'Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <legacy-1@printer.example>\r\n';

/** listen.bareLineFeedClients: the leniency is per client and off by default (docs/message-integrity.md). */
const BARE_LF_HERE = { bareLineFeedClients: ['127.0.0.1'] };

describe('bare LF line endings', () => {
  it('takes a whole session written with bare LF, ending DATA on "\\n.\\n", and stores CRLF', async () => {
    const s = await start(BARE_LF_HERE);
    const wire = await s.wire();
    await wire.expect(wire.reply(), 220);
    const lf = (text: string): string => text.replace(/\r\n/g, '\n');
    expect(await exchange(wire, 'HELO printer\n', 1)).toEqual([expect.stringMatching(/^250 /)]);
    expect(await exchange(wire, 'MAIL FROM:<sage@contoso.com>\n', 1)).toEqual([expect.stringMatching(/^250 /)]);
    expect(await exchange(wire, 'RCPT TO:<a@example.com>\n', 1)).toEqual([expect.stringMatching(/^250 /)]);
    expect(await exchange(wire, 'DATA\n', 1)).toEqual([expect.stringMatching(/^354 /)]);
    // A dot-stuffed line, a lone dot inside the text, a mixed CRLF line, and the final "\n.\n".
    const [reply] = await exchange(wire, lf(`${STAMPS}From: sage@contoso.com\nSubject: scan\n\n..dotted\nmixed\r\nend\n.\n`), 1);
    const stored = await s.sink.clientMessage(queuedId(reply ?? ''));
    expect(stored.toString('latin1')).toBe(`${STAMPS}From: sage@contoso.com\r\nSubject: scan\r\n\r\n.dotted\r\nmixed\r\nend\r\n`);
    expect(await exchange(wire, 'QUIT\n', 1)).toEqual([expect.stringMatching(/^221 /)]);
  });

  it('accepts bare LF inside TLS too, after STARTTLS replaced the parser', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'legacy-tls-'));
    const made = await generateCertificate(['localhost', '127.0.0.1']);
    await writeFile(join(dir, 'cert.pem'), made.cert);
    await writeFile(join(dir, 'key.pem'), made.key);
    try {
      const s = await start({ ...BARE_LF_HERE, tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') } });
      const wire = await s.wire();
      await wire.expect(wire.reply(), 220);
      await wire.secure(made.cert);
      const replies = await exchange(wire, 'MAIL FROM:<sage@contoso.com>\nRCPT TO:<a@example.com>\nDATA\n', 3);
      expect(replies.map((reply) => reply.slice(0, 3))).toEqual(['250', '250', '354']);
      const [reply] = await exchange(wire, `${STAMPS}From: sage@contoso.com\n\nover TLS\n.\n`.replace(/\r\n/g, '\n'), 1);
      const stored = await s.sink.clientMessage(queuedId(reply ?? ''));
      expect(stored.toString('latin1')).toBe(`${STAMPS}From: sage@contoso.com\r\n\r\nover TLS\r\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves a CRLF client byte for byte, 8-bit bytes and NUL included; a bare CR in the body gets its LF, as upstream', async () => {
    const s = await start();
    const wire = await s.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    const message = Buffer.concat([
      Buffer.from(`${STAMPS}From: sage@contoso.com\r\nSubject: bytes\r\n\r\n`),
      Buffer.from([0x00, 0x0d, 0x41, 0xe9, 0xff, 0x80, 0x0d, 0x0a]),
      Buffer.from('last line\r\n'),
    ]);
    wire.write(Buffer.concat([message, Buffer.from('.\r\n')]));
    const stored = await s.sink.clientMessage(queuedId((await wire.reply()).last));
    // nodemailer's DataStream would send the same lines: every lone CR becomes CRLF (line-discipline.ts).
    const expected = Buffer.concat([message.subarray(0, message.length - 19), Buffer.from([0x00, 0x0d, 0x0a, 0x41, 0xe9, 0xff, 0x80, 0x0d, 0x0a]), Buffer.from('last line\r\n')]);
    expect(stored.equals(expected)).toBe(true);
  });
});

describe('HELO-only printers and pipelining', () => {
  it('serves a printer that says HELO, uses no extension and sends an 8-bit body', async () => {
    const s = await start();
    const wire = await s.wire();
    await wire.expect(wire.reply(), 220);
    const helo = await wire.command('HELO MFP-4F-Printer');
    expect(helo.last).toMatch(/^250 /);
    expect(helo.lines).toHaveLength(1);
    await wire.startDataAfterEhlo('scanner@contoso.com', ['accounts@fabrikam.example']);
    const message = Buffer.concat([
      Buffer.from(`${STAMPS}From: Scanner <scanner@contoso.com>\r\nSubject: Scan \xe0 Z\xfcrich\r\n\r\n`, 'latin1'),
      Buffer.from('Num\xe9risation termin\xe9e.\r\n', 'latin1'),
    ]);
    wire.write(Buffer.concat([message, Buffer.from('.\r\n')]));
    const id = queuedId((await wire.reply()).last);
    expect((await s.sink.clientMessage(id)).equals(message)).toBe(true);
    expect((await s.sink.queuedRecord(id)).client.helo?.toLowerCase()).toBe('mfp-4f-printer');
  });

  it('answers a client that sends the whole session in one write, in order', async () => {
    const s = await start();
    const wire = await s.wire();
    await wire.expect(wire.reply(), 220);
    const message = `${STAMPS}From: sage@contoso.com\r\nSubject: pipelined\r\n\r\none write\r\n`;
    const session = [
      'EHLO batch.example',
      'MAIL FROM:<sage@contoso.com>',
      'RCPT TO:<a@example.com>',
      'RCPT TO:<b@example.com>',
      'DATA',
      `${message}.`,
      'MAIL FROM:<invoices@contoso.com>',
      'RCPT TO:<c@example.com>',
      'DATA',
      `${message}.`,
      'QUIT',
      '',
    ].join('\r\n');
    const replies = await exchange(wire, session, 10);
    expect(replies.map((reply) => reply.slice(0, 3))).toEqual(['250', '250', '250', '250', '354', '250', '250', '250', '354', '250']);
    expect((await wire.reply()).code).toBe(221);
    const id = queuedId(replies[5] ?? '');
    expect((await s.sink.clientMessage(id)).toString('latin1')).toBe(message);
    expect((await s.sink.queuedRecord(queuedId(replies[9] ?? ''))).recipients.map((r) => r.address)).toEqual(['c@example.com']);
  });
});

describe('long header lines', () => {
  it('passes 5,000-character header lines, folded or not, unchanged and still checks From', async () => {
    const s = await start();
    const wire = await s.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    const longName = 'Sage '.repeat(1000);
    const message =
      `${STAMPS}X-Long: ${'x'.repeat(5000)}\r\n` +
      `From: "${longName}"\r\n ${'\t'.repeat(2)}<sage@contoso.com>\r\n` +
      `Subject: ${'folded '.repeat(400)}\r\n ${'y'.repeat(5000)}\r\n\r\nbody\r\n`;
    wire.write(`${message}.\r\n`);
    const id = queuedId((await wire.reply()).last);
    expect((await s.sink.clientMessage(id)).toString('latin1')).toBe(message);

    // The same long From naming another account's mailbox is still refused.
    await wire.startDataAfterEhlo('sage@contoso.com', ['a@example.com']);
    wire.write(`${STAMPS}From: "${longName}"\r\n <scanner@contoso.com>\r\n\r\nbody\r\n.\r\n`);
    expect((await wire.reply()).last).toBe('550 5.7.1 From header address <scanner@contoso.com> is not allowed for this sender');
  });
});

describe('Date and Message-ID (RFC 6409 8.3, 8.4)', () => {
  it('adds them in front of the fields of a message that has neither, and keeps the rest', async () => {
    const s = await start();
    const wire = await s.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    const message = 'From: sage@contoso.com\r\nSubject: bare\r\n\r\nbody\r\n';
    wire.write(`${message}.\r\n`);
    const stored = (await s.sink.clientMessage(queuedId((await wire.reply()).last))).toString('latin1');
    // The ManualClock starts at 2026-11-22 09:00:00 UTC; the host is listen.name.
    expect(stored).toMatch(/^Date: Sun, 22 Nov 2026 09:00:00 \+0000\r\nMessage-ID: <[0-9a-f]{32}@relay\.test>\r\n/);
    expect(stored.endsWith(message)).toBe(true);
  });
});

describe('per-client limits (listen.perClient)', () => {
  it('refuses connections over maxConnections with 421 4.7.0 and closes them; a freed slot is usable again', async () => {
    // Test clients connect from 127.0.0.1: limit loopback too, as includeLoopback allows.
    const s = await start({ perClient: { maxConnections: 2, messagesPerMinute: 100, includeLoopback: true } });
    const first = await s.wire();
    const second = await s.wire();
    await first.expect(first.reply(), 220);
    await second.expect(second.reply(), 220);
    const third = await s.wire();
    expect((await third.reply()).last).toBe('421 4.7.0 Too many connections from 127.0.0.1, try again later');
    await third.closed;

    first.close();
    await first.closed;
    // onClose runs after the socket closed (smtp-server defers it a tick): retry a few times.
    let greeting = '';
    for (let attempt = 0; attempt < 50 && !greeting.startsWith('220'); attempt++) {
      const next = await s.wire();
      greeting = (await next.reply()).last;
      if (!greeting.startsWith('220')) await next.closed;
    }
    expect(greeting).toMatch(/^220 /);
  });

  it('does not limit programs on this machine unless includeLoopback says so (a Sage batch is not throttled)', async () => {
    const s = await start({ perClient: { maxConnections: 1, messagesPerMinute: 1 } });
    const first = await s.wire();
    const second = await s.wire();
    await first.expect(first.reply(), 220);
    await second.expect(second.reply(), 220);
    await first.expect(first.command('EHLO printer'), 250);
    for (const tag of ['one', 'two', 'three']) {
      await first.startDataAfterEhlo('sage@contoso.com', ['a@example.com']);
      first.write(`${STAMPS}From: sage@contoso.com\r\n\r\n${tag}\r\n.\r\n`);
      await first.expect(first.reply(), 250);
    }
  });

  it('refuses MAIL FROM over messagesPerMinute with 451 4.7.1 until the minute has passed', async () => {
    const s = await start({ perClient: { maxConnections: 5, messagesPerMinute: 2, includeLoopback: true } });
    const wire = await s.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write(`${STAMPS}From: sage@contoso.com\r\n\r\none\r\n.\r\n`);
    await wire.expect(wire.reply(), 250);
    await wire.startDataAfterEhlo('sage@contoso.com', ['a@example.com']);
    wire.write(`${STAMPS}From: sage@contoso.com\r\n\r\ntwo\r\n.\r\n`);
    await wire.expect(wire.reply(), 250);
    expect((await wire.command('MAIL FROM:<sage@contoso.com>')).last).toBe(
      '451 4.7.1 Too many messages from 127.0.0.1, slow down',
    );
    // Another connection from the same client is counted together.
    const other = await s.wire();
    await other.expect(other.reply(), 220);
    await other.expect(other.command('EHLO x'), 250);
    expect((await other.command('MAIL FROM:<sage@contoso.com>')).code).toBe(451);

    await s.clock.advance(60_000);
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
  });
});
