/**
 * The receiving half of SMTP smuggling (RFC 5321 4.1.1.4; docs/message-integrity.md): a client
 * whose message body holds "\n.\n" (or "\n.\r\n", "\r\n.\n", "\r.\r\n") followed by SMTP
 * commands must not have those commands run as a second transaction. Only CRLF.CRLF ends DATA,
 * except for the devices listed in listen.bareLineFeedClients, where the cost is shown below.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const SMUGGLED = 'MAIL FROM:<scanner@contoso.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nFrom: scanner@contoso.com\r\n\r\nsmuggled\r\n';

/** Terminators that some server somewhere took for the end of DATA; none of them is CRLF.CRLF. */
const FAKE_ENDS = ['\n.\n', '\n.\r\n', '\r\n.\n', '\r.\r\n', '\r.\r', '\r\n.\r'];

describe('end of DATA for a strict client (everyone not in bareLineFeedClients, loopback included)', () => {
  for (const fakeEnd of FAKE_ENDS) {
    it(`takes ${JSON.stringify(fakeEnd)} as message text: one transaction, one 250, nothing smuggled`, async () => {
      harness = await startHarness({}, silentLogger());
      const wire = await harness.wire();
      await wire.startData('sage@contoso.com', ['a@example.com']);
      wire.write(`From: sage@contoso.com\r\nSubject: cover\r\n\r\nhello${fakeEnd}${SMUGGLED}\r\n.\r\n`);
      const reply = await wire.reply();
      expect(reply.last).toMatch(/^250 2\.0\.0 queued as /);
      // Nothing else was answered: the "commands" were text of the first message.
      expect((await wire.command('NOOP')).last).toMatch(/^250 /);
      expect(harness.accepted).toHaveLength(1);
      expect(harness.accepted[0]?.recipients.map((r) => r.address)).toEqual(['a@example.com']);
      const stored = (await harness.sink.clientMessage(harness.accepted[0]?.id ?? '')).toString('latin1');
      expect(stored).toContain('MAIL FROM:<scanner@contoso.com>');
      // Stored CRLF-only, so the dot line is dot-stuffed again on the way out (nodemailer).
      expect(stored).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    });
  }

  it('waits for CRLF.CRLF when a strict client ends with a bare LF dot (the cost of strictness, see the docs)', async () => {
    harness = await startHarness({}, silentLogger());
    const wire = await harness.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write('From: sage@contoso.com\n\nprinter style\n.\n');
    wire.write('QUIT\n');
    // No reply to QUIT either: it is still message text. The real end comes later.
    wire.write('\r\n.\r\n');
    expect((await wire.reply()).last).toMatch(/^250 2\.0\.0 queued as /);
    expect(harness.accepted).toHaveLength(1);
  });
});

describe('a device in listen.bareLineFeedClients', () => {
  it('ends DATA on "\\n.\\n": what follows is the next transaction, from the same client and checked like any other', async () => {
    harness = await startHarness({ bareLineFeedClients: ['127.0.0.1'] }, silentLogger());
    const wire = await harness.wire();
    await wire.startData('sage@contoso.com', ['a@example.com']);
    wire.write(`From: sage@contoso.com\r\n\r\nhello\n.\n${SMUGGLED}.\r\n`);
    const replies = [];
    for (let n = 0; n < 5; n++) replies.push((await wire.reply()).last.slice(0, 3));
    // 250 for the first message, then MAIL, RCPT, DATA and the second message (its sender is allowed).
    expect(replies).toEqual(['250', '250', '250', '354', '250']);
    expect(harness.accepted.map((record) => record.account)).toEqual(['sage', 'scanner']);
  });
});
