import { PassThrough } from 'node:stream';
import nodemailer from 'nodemailer';
import { createLogger } from '../../src/core/logger.js';
import { afterEach, describe, expect, it } from 'vitest';
import { receivedField } from './trace-field.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;

async function start(listen: Record<string, unknown> = {}, logger?: Parameters<typeof startHarness>[1]): Promise<Harness> {
  harness = await startHarness(listen, logger);
  return harness;
}

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** Dot-stuffs a message for DATA (RFC 5321 4.5.2) and appends the terminator. */
function dataPayload(message: string | Buffer): Buffer {
  const text = Buffer.isBuffer(message) ? message.toString('latin1') : Buffer.from(message).toString('latin1');
  return Buffer.from(`${text.replace(/^\./gm, '..')}.\r\n`, 'latin1');
}

function queuedId(reply: string): string {
  const match = /^250 2\.0\.0 queued as ([A-Za-z0-9_-]+)$/.exec(reply);
  if (match?.[1] === undefined) throw new Error(`not a queued reply: ${reply}`);
  return match[1];
}

describe('inbound SMTP, session', () => {
  it('greets with the banner and offers PIPELINING, 8BITMIME, SMTPUTF8, SIZE; no AUTH, no STARTTLS when both are off', async () => {
    const h = await start({ maxMessageBytes: 123456, auth: 'off', tls: { starttls: false } });
    const wire = await h.wire();
    expect((await wire.reply()).last).toBe('220 relay.test ESMTP smtp-oauth-relay ready');
    const ehlo = await wire.command('EHLO client.example');
    expect(ehlo.code).toBe(250);
    const features = ehlo.lines.slice(1);
    expect(features).toEqual(expect.arrayContaining(['PIPELINING', '8BITMIME', 'SMTPUTF8', 'SIZE 123456']));
    expect(features.some((line) => /^(AUTH|STARTTLS)/.test(line))).toBe(false);
    expect((await wire.command('STARTTLS')).code).toBe(500);
    expect((await wire.command('AUTH PLAIN AGFiYwBkZWY=')).code).toBe(500);
    expect((await wire.command('HELO client.example')).code).toBe(250);
  });

  it('answers malformed and out-of-order commands with 500/501/503 and keeps the session', async () => {
    const h = await start();
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    expect((await wire.command('MAIL FROM:<sage@contoso.com>')).code).toBe(503); // before EHLO
    expect((await wire.command('EHLO')).code).toBe(501);
    expect((await wire.command('EHLO client.example')).code).toBe(250);
    expect((await wire.command('FROB')).code).toBe(500);
    expect((await wire.command('RCPT TO:<a@example.com>')).code).toBe(503); // before MAIL
    expect((await wire.command('DATA')).code).toBe(503);
    expect((await wire.command('MAIL FROM:<sage@contoso.com')).code).toBe(501);
    expect((await wire.command('MAIL FROM:<sage@contoso.com>')).code).toBe(250);
    expect((await wire.command('DATA')).code).toBe(503); // before RCPT
    expect((await wire.command('MAIL FROM:<sage@contoso.com>')).code).toBe(503); // nested
    expect((await wire.command('RSET')).code).toBe(250);
    expect((await wire.command('NOOP')).code).toBe(250);
  });

  it('answers a command line over 1000 octets, and closes only on one past the parser limit', async () => {
    const h = await start();
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.example'), 250);
    // RFC 5321 4.5.3.1.4: 512 octets; a longer line is still answered, not fatal.
    expect((await wire.command(`XLONG ${'a'.repeat(1200)}`)).code).toBe(500);
    // A 1,200-octet local part is over RFC 5321's 64 octets (4.5.3.1.1): a syntax error.
    expect((await wire.command(`MAIL FROM:<${'a'.repeat(1200)}@contoso.com>`)).code).toBe(501);
    expect((await wire.command('NOOP')).code).toBe(250);

    const tooLong = await wire.command(`XLONG ${'a'.repeat(5000)}`);
    expect(tooLong.last).toBe('421 Error: Command line too long');
    await wire.closed;

    const next = await h.wire();
    expect((await next.reply()).code).toBe(220);
  });

  it('refuses an unknown sender at MAIL FROM, and the null sender, then takes an allowed one', async () => {
    const h = await start();
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.example'), 250);
    expect((await wire.command('MAIL FROM:<ceo@contoso.com>')).last).toBe(
      '550 5.7.1 Sender <ceo@contoso.com> is not allowed: add it to "sendAs" of an account in the relay\'s configuration',
    );
    expect((await wire.command('MAIL FROM:<>')).last).toMatch(/^550 5\.7\.1 Sender <> is not allowed/);
    expect((await wire.command('MAIL FROM:<NoReply@contoso.com>')).code).toBe(250);
  });

  it('caps recipients with 452 4.5.3 and counts a repeated recipient once', async () => {
    const h = await start({ maxRecipients: 2 });
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.example'), 250);
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
    await wire.expect(wire.command('RCPT TO:<a@example.com>'), 250);
    await wire.expect(wire.command('RCPT TO:<b@example.com>'), 250);
    expect((await wire.command('RCPT TO:<c@example.com>')).last).toBe('452 4.5.3 Too many recipients');
    expect((await wire.command('RCPT TO:<A@example.com>')).code).toBe(250);
    await wire.expect(wire.command('DATA'), 354);
    wire.write(dataPayload('From: sage@contoso.com\r\nSubject: two\r\n\r\nhi\r\n'));
    const id = queuedId((await wire.reply()).last);
    expect((await h.sink.queuedRecord(id)).recipients.map((r) => r.address)).toHaveLength(2);
  });

  it('stopAccepting: new connections get 421 4.3.2, a session already open can still send', async () => {
    const h = await start();
    const open = await h.wire();
    await open.expect(open.reply(), 220);
    h.server.stopAccepting();

    const late = await h.wire();
    expect((await late.reply()).last).toBe('421 4.3.2 Service shutting down, try again later');
    await late.closed;

    await open.expect(open.command('EHLO client.example'), 250);
    await open.startDataAfterEhlo('sage@contoso.com', ['a@example.com']);
    open.write(dataPayload('From: sage@contoso.com\r\n\r\nstill taken\r\n'));
    expect((await open.reply()).last).toMatch(/^250 2\.0\.0 queued as /);
  });

  it('close() says 421 to idle sessions and resolves', async () => {
    const h = await start();
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.example'), 250);
    const closing = h.server.close();
    expect((await wire.reply()).last).toBe('421 4.3.2 Service shutting down, try again later');
    await closing;
    await wire.closed;
  });
});

describe('inbound SMTP, messages', () => {
  it('spools the exact bytes sent, with dot-stuffing undone, and answers 250 2.0.0 queued as <id>', async () => {
    const h = await start();
    const wire = await h.wire();
    // With Date and Message-ID the relay adds only Received (RFC 5321 4.4; RFC 6409 8.3, 8.4), so the rest stays the client's.
    const message =
      'Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <dots@contoso.com>\r\n' +
      'From: Sage 100 <sage@contoso.com>\r\nTo: a@example.com\r\nSubject: dots\r\n\r\n' +
      '.starts with a dot\r\n..two dots\r\n.\r\n  .indented\r\nlast line\r\n';
    await wire.startData('sage@contoso.com', ['a@example.com', 'b@example.com']);
    wire.write(dataPayload(message));
    const id = queuedId((await wire.reply()).last);

    expect((await h.sink.clientMessage(id)).toString('latin1')).toBe(message);
    const record = await h.sink.queuedRecord(id);
    expect(record).toMatchObject({
      id,
      kind: 'message',
      account: 'sage',
      mailFrom: 'sage@contoso.com',
      client: { address: '127.0.0.1', helo: 'client.example' },
      size: (await h.sink.queuedMessage(id)).length,
    });
    expect(receivedField(await h.sink.queuedMessage(id))).toMatch(
      /^Received: from client\.example\tby relay\.test \(smtp-oauth-relay\) with ESMTP;\t\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/,
    );
    expect(record.recipients.map((r) => r.address)).toEqual(['a@example.com', 'b@example.com']);
    expect(h.accepted.map((r) => r.id)).toEqual([id]);
    expect(await h.sink.files('tmp')).toEqual([]);

    // The session goes on: a second message on the same connection.
    await wire.expect(wire.command('MAIL FROM:<invoices@contoso.com>'), 250);
    await wire.expect(wire.command('RCPT TO:<c@example.com>'), 250);
    await wire.expect(wire.command('DATA'), 354);
    wire.write(dataPayload('From: invoices@contoso.com\r\n\r\nsecond\r\n'));
    queuedId((await wire.reply()).last);
    expect(h.accepted).toHaveLength(2);
  });

  it('logs one info line per accepted message, without its content', async () => {
    const output = new PassThrough();
    const lines: string[] = [];
    output.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
    const h = await start({}, createLogger({ level: 'info', stdout: output, pretty: false }));
    const wire = await h.wire();
    await wire.startData('invoices@contoso.com', ['a@example.com', 'b@example.com']);
    wire.write(dataPayload('From: invoices@contoso.com\r\nSubject: secret-subject\r\n\r\nsecret-body\r\n'));
    const id = queuedId((await wire.reply()).last);

    const accepted = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'message accepted');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({ level: 30, id, account: 'sage', from: 'invoices@contoso.com', rcpt: 2, client: '127.0.0.1' });
    expect(accepted[0]?.size).toBe((await h.sink.queuedRecord(id)).size);
    expect(lines.join('\n')).not.toMatch(/secret-(subject|body)/);
  });

  it('keeps 8-bit and UTF-8 content and a UTF-8 recipient (SMTPUTF8, 8BITMIME) byte for byte', async () => {
    const h = await start();
    const wire = await h.wire();
    const message = Buffer.concat([
      Buffer.from('Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <utf8@contoso.com>\r\n'),
      Buffer.from('From: Élise Dépôt <sage@contoso.com>\r\nSubject: Größe ✓\r\n\r\nZürich 1€ ✓\r\n'),
      Buffer.from([0xe9, 0x0d, 0x0a]), // a Latin-1 "é": 8-bit, not UTF-8
    ]);
    await wire.startData('sage@contoso.com', ['josé@exämple.com'], ' SMTPUTF8 BODY=8BITMIME');
    wire.write(dataPayload(message));
    const id = queuedId((await wire.reply()).last);
    expect((await h.sink.clientMessage(id)).equals(message)).toBe(true);
    expect((await h.sink.queuedRecord(id)).recipients[0]?.address).toBe('josé@exämple.com');
  });

  it('takes a message from nodemailer as a client', async () => {
    const h = await start();
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: h.server.address.port, secure: false });
    try {
      const info = await transport.sendMail({
        from: '"Facturation Sage" <Invoices@contoso.com>',
        to: ['a@example.com', 'René <rené@exämple.com>'],
        subject: 'Facture n° 42',
        text: 'Bonjour,\n.\nVeuillez trouver ci-joint la facture.\n',
      });
      const id = queuedId(info.response);
      const spooled = (await h.sink.clientMessage(id)).toString('utf8');
      expect(spooled).toMatch(/^Subject: =\?UTF-8\?Q\?Facture_n=C2=B0_42\?=\r$/m);
      // A line holding a single dot went through dot-stuffing and came back as it was.
      expect(spooled).toContain('Bonjour,\r\n.\r\nVeuillez');
      expect((await h.sink.queuedRecord(id)).recipients.map((r) => r.address)).toEqual(['a@example.com', 'rené@exämple.com']);
    } finally {
      transport.close();
    }
  });

  it('refuses a From header of another account after DATA with 550 5.7.1 and keeps nothing', async () => {
    const h = await start();
    const wire = await h.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write(dataPayload('From: Scanner <scanner@contoso.com>\r\nSubject: x\r\n\r\nbody\r\n'));
    expect((await wire.reply()).last).toBe('550 5.7.1 From header address <scanner@contoso.com> is not allowed for this sender');
    expect(await h.sink.files('queue')).toEqual([]);
    expect(await h.sink.files('tmp')).toEqual([]);
    expect(h.accepted).toEqual([]);

    // A message without From is refused the same way.
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
    await wire.expect(wire.command('RCPT TO:<a@example.com>'), 250);
    await wire.expect(wire.command('DATA'), 354);
    wire.write(dataPayload('Subject: no from\r\n\r\nbody\r\n'));
    expect((await wire.reply()).last).toMatch(/^550 5\.7\.1 Message has no From header/);
    expect(await h.sink.files('queue')).toEqual([]);
  });

  it('checks a folded From header written with bare LF line endings', async () => {
    const h = await start();
    const wire = await h.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    // Bare LF inside the message; only the terminator is CRLF.CRLF (smtp-server needs that).
    wire.write(dataPayload('From: "Sage"\n <sage@contoso.com>,\n\tboss@fabrikam.com\nSubject: x\n\nbody\r\n'));
    expect((await wire.reply()).last).toBe('550 5.7.1 From header address <boss@fabrikam.com> is not allowed for this sender');
  });

  it('answers 451 4.3.0 when the sink fails, keeps nothing, and stays up', async () => {
    const h = await start();
    h.sink.failAfterBytes = 10;
    const wire = await h.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write(dataPayload(`From: sage@contoso.com\r\n\r\n${'x'.repeat(70_000)}\r\n`));
    expect((await wire.reply()).last).toBe('451 4.3.0 Could not store the message, try again later');
    expect(await h.sink.files('queue')).toEqual([]);
    expect(await h.sink.files('tmp')).toEqual([]);

    h.sink.failAfterBytes = undefined;
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
    await wire.expect(wire.command('RCPT TO:<a@example.com>'), 250);
    await wire.expect(wire.command('DATA'), 354);
    wire.write(dataPayload('From: sage@contoso.com\r\n\r\nfine now\r\n'));
    expect((await wire.reply()).last).toMatch(/^250 2\.0\.0 queued as /);
  });

  it('refuses an over-size message: 552 at MAIL FROM SIZE=, 552 5.3.4 after DATA, nothing kept', async () => {
    const h = await start({ maxMessageBytes: 1000 });
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.example'), 250);
    expect((await wire.command('MAIL FROM:<sage@contoso.com> SIZE=5000')).code).toBe(552);

    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
    await wire.expect(wire.command('RCPT TO:<a@example.com>'), 250);
    await wire.expect(wire.command('DATA'), 354);
    wire.write(dataPayload(`From: sage@contoso.com\r\n\r\n${'y'.repeat(200_000)}\r\n`));
    expect((await wire.reply()).last).toBe('552 5.3.4 Message exceeds the maximum size of 1000 bytes');
    expect(await h.sink.files('queue')).toEqual([]);
    expect(await h.sink.files('tmp')).toEqual([]);
    expect((await wire.command('NOOP')).code).toBe(250);
  });

  it('keeps nothing when the client drops the connection in the middle of DATA, and stays up', async () => {
    const h = await start();
    const wire = await h.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write('From: sage@contoso.com\r\nSubject: cut\r\n\r\nhalf a message\r\n');
    wire.close();

    expect(await h.sink.outcome(0)).toBe('rejected');
    expect(await h.sink.files('queue')).toEqual([]);
    expect(await h.sink.files('tmp')).toEqual([]);
    expect(h.accepted).toEqual([]);

    const next = await h.wire();
    await next.startData('sage@contoso.com', ['a@example.com']);
    next.write(dataPayload('From: sage@contoso.com\r\n\r\nwhole\r\n'));
    expect((await next.reply()).last).toMatch(/^250 2\.0\.0 queued as /);
  });
});

// Refusing a client outside loopback is tested end to end from a network namespace of our own
// (test/e2e/non-loopback.test.ts): traffic in tests stays on 127.0.0.1 or on hosts we create.
