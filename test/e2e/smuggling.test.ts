/**
 * SMTP smuggling against the real relay process (RFC 5321 4.1.1.4; docs/message-integrity.md):
 * a strict client's message whose body holds a fake end of DATA and a second transaction. The
 * upstream must receive one message per transaction the client really made, with the "smuggled"
 * commands as text of its body (dot-stuffed on the way out, so Exchange does not end it there
 * either), and never a message to the smuggled recipient.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_MAILBOX, MOCK_SEND_AS } from '../mock-tenant/index.js';
import type { RelayProcess } from '../support/relay-process.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { FaultFixture, RECIPIENT } from './fault-fixture.js';

const VICTIM = 'victim@fabrikam.example';
/** The fake ends that some server somewhere took for CRLF.CRLF. */
const FAKE_ENDS = ['\n.\n', '\n.\r\n', '\r\n.\n', '\r.\r\n', '\r.\r', '\r\n.\r'];
/** An LAN-style device on loopback that is allowed bare LF (listen.bareLineFeedClients). */
const LENIENT_CLIENT = '127.0.0.3';

let fixture: FaultFixture;
let relay: RelayProcess;

beforeAll(async () => {
  fixture = await FaultFixture.create();
  relay = await fixture.startRelay({ listen: { port: 0, bareLineFeedClients: [LENIENT_CLIENT] } });
});

afterAll(async () => {
  await fixture?.close();
});

function smuggling(tag: string, fakeEnd: string): string {
  return (
    `From: ${MOCK_SEND_AS}\r\nSubject: ${tag}\r\n\r\ncover text${fakeEnd}` +
    `MAIL FROM:<${MOCK_MAILBOX}>\r\nRCPT TO:<${VICTIM}>\r\nDATA\r\nFrom: ${MOCK_MAILBOX}\r\nSubject: smuggled ${tag}\r\n\r\nsmuggled\r\n`
  );
}

async function sendRaw(message: string, localAddress?: string): Promise<string[]> {
  const wire = await SmtpWire.open(relay.port, '127.0.0.1', localAddress);
  try {
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO app.example'), 250);
    await wire.startDataAfterEhlo(MOCK_SEND_AS, [RECIPIENT]);
    wire.write(`${message}\r\n.\r\n`);
    const replies = [(await wire.reply()).last];
    // Whatever else the relay answers before QUIT's 221 belongs to a transaction it saw.
    wire.write('QUIT\r\n');
    for (;;) {
      const reply = await wire.reply();
      if (reply.code === 221) break;
      replies.push(reply.last);
    }
    return replies;
  } finally {
    wire.close();
  }
}

describe('SMTP smuggling against the relay', () => {
  it('never accepts a smuggled second transaction from a strict client, whatever the fake end', async () => {
    for (const [n, fakeEnd] of FAKE_ENDS.entries()) {
      const replies = await sendRaw(smuggling(`S${n}`, fakeEnd));
      expect(replies).toHaveLength(1);
      expect(replies[0]).toMatch(/^250 2\.0\.0 queued as /);
    }
    const received = await fixture.tenant.upstream.waitForMessages(FAKE_ENDS.length, 30_000);
    expect(received.flatMap((message) => message.rcptTo)).not.toContain(VICTIM);
    expect(received.map((message) => message.mailFrom)).toEqual(FAKE_ENDS.map(() => MOCK_SEND_AS));
    for (const message of received) {
      const text = message.raw.toString('latin1');
      // The would-be commands arrived as text of the one message, on lines of their own.
      expect(text).toContain(`\r\nMAIL FROM:<${MOCK_MAILBOX}>\r\n`);
      expect(text).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    }
  });

  it('for a device in bareLineFeedClients, "\\n.\\n" ends DATA: the rest is a transaction of its own, checked like any other', async () => {
    const before = fixture.tenant.upstream.messages.length;
    const replies = await sendRaw(smuggling('L1', '\n.\n'), LENIENT_CLIENT);
    // 250 for the cover message; then MAIL, RCPT, DATA and the second message are answered too.
    expect(replies.map((reply) => reply.slice(0, 3))).toEqual(['250', '250', '250', '354', '250']);
    const received = await fixture.tenant.upstream.waitForMessages(before + 2, 30_000);
    expect(received.slice(before).flatMap((message) => message.rcptTo).sort()).toEqual([RECIPIENT, VICTIM].sort());
  });
});
