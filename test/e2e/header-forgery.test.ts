/**
 * The header forgeries of issue 10, against the real relay process and the mock tenant, each
 * asserting what the upstream received (docs/message-integrity.md): no second From, no forged
 * Sender or Resent-From, nothing past the 256 KiB header limit, no malformed From that other
 * parsers read differently, no Kelvin-sign look-alike, none of it through a local user's sendAs
 * narrowing or through sender rewriting, and no header injected into a DSN.
 * The upstream's copies are read by the independent strict reader (test/inbound/strict-reader.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeDsn } from '../../src/delivery/dsn.js';
import type { QueueRecord } from '../../src/core/queue-record.js';
import { addUser, usersFilePath } from '../../src/inbound/local-users.js';
import { EXCHANGE_REPLIES, MOCK_MAILBOX, MOCK_SEND_AS, type ReceivedMessage } from '../mock-tenant/index.js';
import { forgeries, readAsExchange } from '../inbound/strict-reader.js';
import type { RelayProcess } from '../support/relay-process.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { FaultFixture, RECIPIENT } from './fault-fixture.js';

const CEO = 'ceo@contoso.example';
/** An allowed address with a k, for the Kelvin sign (U+212A), which full Unicode lower-casing makes a k. */
const KATE = 'kate@contoso.example';
const ALLOWED = [MOCK_MAILBOX, MOCK_SEND_AS, KATE];
/** Sender rewriting applies to this loopback address only (listen.rewriteSender). */
const REWRITE_CLIENT = '127.0.0.2';
const GONE = 'gone@fabrikam.example';

let fixture: FaultFixture;
let relay: RelayProcess;

beforeAll(async () => {
  fixture = await FaultFixture.create();
  // A local user narrowed to the send-as address: the account's own mailbox is not its to use.
  await addUser(usersFilePath(fixture.dataDir), 'billing', 'billing-pw', { account: 'sage', sendAs: [MOCK_SEND_AS] });
  const accounts = fixture.config().accounts.map((account) => ({ ...account, sendAs: [...(account.sendAs ?? []), KATE] }));
  relay = await fixture.startRelay({ accounts, listen: { port: 0, rewriteSender: [{ client: REWRITE_CLIENT, account: 'sage' }] } });
  fixture.tenant.upstream.script({ phase: 'rcpt', reply: EXCHANGE_REPLIES.recipientNotFound, times: Infinity, match: (context) => context.rcptTo === GONE });
});

afterAll(async () => {
  await fixture?.close();
});

/** One transaction on a new connection; returns the reply to the final dot (or to whatever failed first). */
async function send(message: string, options: { from?: string; to?: string; localAddress?: string; auth?: [string, string] } = {}): Promise<string> {
  const wire = await SmtpWire.open(relay.port, '127.0.0.1', options.localAddress);
  try {
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO forger.example'), 250);
    if (options.auth !== undefined) {
      const [user, password] = options.auth;
      await wire.expect(wire.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`), 235);
    }
    const mail = await wire.command(`MAIL FROM:<${options.from ?? MOCK_SEND_AS}>`);
    if (mail.code !== 250) return mail.last;
    await wire.expect(wire.command(`RCPT TO:<${options.to ?? RECIPIENT}>`), 250);
    await wire.expect(wire.command('DATA'), 354);
    wire.write(Buffer.concat([Buffer.from(message.replace(/(^|\n)\./g, '$1..'), 'latin1'), Buffer.from('.\r\n')]));
    return (await wire.reply()).last;
  } finally {
    wire.close();
  }
}

/** The upstream copy whose body carries `tag`. */
async function upstreamCopy(tag: string): Promise<ReceivedMessage> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    const found = fixture.tenant.upstream.messages.find((message) => message.raw.toString('latin1').includes(tag));
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no upstream message with ${tag}`);
}

const body = (tag: string): string => `\r\n${tag}\r\n`;

describe('header forgery through the relay', () => {
  const refused: Array<[string, string, RegExp]> = [
    ['a bare CR that hides a second From', `X-A: a\rFrom: "Chief Executive" <${CEO}>\r\nFrom: ${MOCK_SEND_AS}\r\n${body('T1')}`, /^550 5\.6\.0 Header block contains a CR without LF/],
    ['\\r\\r\\n that ends the header block early upstream', `X-A: a\r\r\nFrom: ${MOCK_SEND_AS}\r\n${body('T2')}`, /^550 5\.6\.0 Header block contains a CR without LF/],
    ['a NUL in a header field', `From: ${MOCK_SEND_AS}\0\r\n${body('T3')}`, /^550 5\.6\.0 Header block contains a NUL/],
    ['a From after 256 KiB of header fields', `From: ${MOCK_SEND_AS}\r\n${`X-Pad: ${'p'.repeat(990)}\r\n`.repeat(270)}From: ${CEO}\r\n${body('T4')}`, /^550 5\.6\.0 Header block does not end within 262144 bytes/],
    ['two From fields', `From: ${MOCK_SEND_AS}\r\nFrom: ${CEO}\r\n${body('T5')}`, /^550 5\.6\.0 Message has 2 From fields/],
    ['<a@x> <b@y>', `From: <${MOCK_SEND_AS}> <${CEO}>\r\n${body('T6')}`, /^550 5\.7\.1 From header has no valid address/],
    ['a@x b@y', `From: ${MOCK_SEND_AS} ${CEO}\r\n${body('T7')}`, /^550 5\.7\.1 From header has no valid address/],
    ['b@y\\ <a@x>', `From: ${CEO}\\ <${MOCK_SEND_AS}>\r\n${body('T8')}`, /^550 5\.7\.1 From header has no valid address/],
    ['a forged Sender', `From: ${MOCK_SEND_AS}\r\nSender: "CEO" <${CEO}>\r\n${body('T9')}`, /^550 5\.7\.1 Sender header address <ceo@contoso\.example> is not allowed/],
    ['a forged Resent-From', `From: ${MOCK_SEND_AS}\r\nResent-From: ${CEO}\r\n${body('T10')}`, /^550 5\.7\.1 Resent-From header address/],
    ['a forged Resent-Sender', `From: ${MOCK_SEND_AS}\r\nResent-Sender: ${CEO}\r\n${body('T11')}`, /^550 5\.7\.1 Resent-Sender header address/],
    ['a Kelvin-sign look-alike of an allowed address', `From: \u212Aate@contoso.example\r\n${body('T12')}`, /^550 5\.7\.1 From header address <.ate@contoso\.example> is not allowed/],
    ['a Subject with a bare CR that would inject into the DSN', `From: ${MOCK_SEND_AS}\r\nSubject: x\rBcc: ${CEO}\r\n${body('T13')}`, /^550 5\.6\.0 /],
  ];
  for (const [name, message, reply] of refused) {
    it(`refuses ${name}, and nothing of it reaches the upstream`, async () => {
      expect(await send(message)).toMatch(reply);
    });
  }

  it('takes the plain version of the same message, and the upstream reads only allowed senders', async () => {
    expect(await send(`From: Sage 100 <${MOCK_SEND_AS}>\r\nSender: ${MOCK_MAILBOX}\r\nSubject: fine\r\n${body('T-OK')}`)).toMatch(/^250 /);
    const copy = await upstreamCopy('T-OK');
    expect(forgeries(copy.raw, ALLOWED)).toEqual([]);
    expect(copy.raw.toString('latin1')).toMatch(/^Received: from forger\.example\r\n\tby /);
  });

  it("keeps a local user's sendAs narrowing: no bare-CR From, no account mailbox the user may not use", async () => {
    const user: [string, string] = ['billing', 'billing-pw'];
    expect(await send(`From: ${MOCK_SEND_AS}\r\nX-A: a\rFrom: ${MOCK_MAILBOX}\r\n${body('U1')}`, { auth: user })).toMatch(/^550 5\.6\.0 /);
    expect(await send(`From: ${MOCK_MAILBOX}\r\n${body('U2')}`, { auth: user })).toMatch(/^550 5\.7\.1 From header address/);
    expect(await send(`From: ${MOCK_SEND_AS}\r\nSender: ${MOCK_MAILBOX}\r\n${body('U3')}`, { auth: user })).toMatch(/^550 5\.7\.1 Sender header address/);
    expect(await send(`From: ${MOCK_SEND_AS}\r\n${body('U4')}`, { auth: user })).toMatch(/^250 /);
    expect(forgeries((await upstreamCopy('U4')).raw, [MOCK_SEND_AS])).toEqual([]);
  });

  it('pushes no extra From, Sender or Resent- field through sender rewriting', async () => {
    const message = `From: Scanner <scan@printer.local>\r\nSender: ${CEO}\r\nResent-From: ${CEO}\r\nResent-Sender: ${CEO}\r\nSubject: scan\r\n${body('R1')}`;
    expect(await send(message, { from: 'scan@printer.local', localAddress: REWRITE_CLIENT })).toMatch(/^250 /);
    const copy = await upstreamCopy('R1');
    expect(copy.mailFrom).toBe(MOCK_MAILBOX);
    const reading = readAsExchange(copy.raw);
    expect(reading.senders.map((sender) => `${sender.field}: ${sender.address}`)).toEqual([`from: ${MOCK_MAILBOX}`, `from: ${MOCK_MAILBOX}`]);
    expect(forgeries(copy.raw, [MOCK_MAILBOX])).toEqual([]);
    // A second From in the rewritten message is refused like any other.
    expect(await send(`From: a@printer.local\r\nX: y\rFrom: ${CEO}\r\n${body('R2')}`, { from: 'scan@printer.local', localAddress: REWRITE_CLIENT })).toMatch(/^550 5\.6\.0 /);
  });

  it('sends a DSN with exactly its own header fields, whatever the Subject held', async () => {
    const subject = `D1 invoice 7 ${'folded '.repeat(20)}\r\n continued`;
    expect(await send(`From: ${MOCK_SEND_AS}\r\nSubject: ${subject}\r\n${body('original body')}`, { to: GONE })).toMatch(/^250 /);
    const dsn = await upstreamCopy('D1');
    expect(dsn.rcptTo).toEqual([MOCK_SEND_AS]);
    const header = dsn.raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
    const names = header.split(/\r\n(?![ \t])/).map((field) => field.slice(0, field.indexOf(':')).toLowerCase());
    expect(names.filter((name) => name === 'subject')).toHaveLength(1);
    expect(names).not.toContain('bcc');
    expect(forgeries(dsn.raw, ALLOWED)).toEqual([]);
  });

  it('composes a DSN without injected fields even from a spooled message that still holds a bare CR', () => {
    const record = { id: 'old', mailFrom: MOCK_SEND_AS, receivedAt: Date.now(), recipients: [{ address: GONE, status: 'failed', lastReply: { code: 550, text: '5.1.10 gone' } }] } as unknown as QueueRecord;
    const { raw } = composeDsn({ record, mailbox: MOCK_MAILBOX, reportingHost: 'relay.test', originalHeaders: `From: ${MOCK_SEND_AS}\r\nSubject: x\rBcc: ${CEO}\nX-Evil: 1\r\n`, now: new Date() });
    const header = raw.toString('latin1').split('\r\n\r\n')[0] ?? '';
    expect(header).toMatch(/^Subject: Undeliverable: x Bcc: ceo@contoso\.example$/m);
    expect(header).not.toMatch(/^(Bcc|X-Evil):/im);
  });

  it('let nothing refused reach the upstream, and every upstream copy reads as allowed senders only', async () => {
    await upstreamCopy('D1');
    const refusedTags = [...refused.map((_, n) => `T${n + 1}\r\n`), 'U1\r\n', 'U2\r\n', 'U3\r\n', 'R2\r\n'];
    const upstream = fixture.tenant.upstream.messages;
    expect(upstream.length).toBeGreaterThanOrEqual(4);
    for (const message of upstream) {
      const text = message.raw.toString('latin1');
      expect(refusedTags.filter((tag) => text.includes(`\r\n${tag}`))).toEqual([]);
      expect(forgeries(message.raw, ALLOWED)).toEqual([]);
    }
  });
});
