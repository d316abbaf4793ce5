import { describe, expect, it } from 'vitest';
import { SmtpReplyError } from '../core/errors.js';
import { testConfig } from '../../test/inbound/config.js';
import { accountForEnvelopeSender, allowedSenders, buildSenderIndex, checkHeaderSenders } from './sender-policy.js';

const config = testConfig();
const senders = buildSenderIndex(config.accounts);
const sage = config.accounts[0]!;

/** The old shape of the check: the From values of one message, against the account's senders. */
function checkHeaderFrom(account: typeof sage, fromValues: readonly string[], allowed = allowedSenders(account)): void {
  checkHeaderSenders(fromValues.map((value) => `From: ${value}\r\n`).join(''), allowed);
}

function replyOf(action: () => unknown): string {
  try {
    action();
  } catch (err) {
    if (err instanceof SmtpReplyError) return err.reply;
    throw err;
  }
  return 'no error';
}

describe('envelope sender', () => {
  it('chooses the account whose mailbox or sendAs is the sender, ignoring case', () => {
    expect(accountForEnvelopeSender(senders, 'sage@contoso.com').name).toBe('sage');
    expect(accountForEnvelopeSender(senders, 'INVOICES@contoso.COM').name).toBe('sage');
    expect(accountForEnvelopeSender(senders, 'Scanner@Contoso.com').name).toBe('scanner');
  });

  it('refuses an unknown sender with a reply that says what to change', () => {
    expect(replyOf(() => accountForEnvelopeSender(senders, 'ceo@contoso.com'))).toBe(
      '550 5.7.1 Sender <ceo@contoso.com> is not allowed: add it to "sendAs" of an account in the relay\'s configuration',
    );
  });

  it('names listen.rewriteSender with the client for a sender that looks invented, keeping 550 5.7.1', () => {
    const fix = '"listen.rewriteSender" ({ "client": "192.168.1.50", "account": "<account>" })';
    // A domain that is none of the accounts': a printer's own name.
    const printer = replyOf(() => accountForEnvelopeSender(senders, 'scan@printer.local', '::ffff:192.168.1.50'));
    expect(printer).toMatch(/^550 5\.7\.1 Sender <scan@printer\.local> is not allowed: it looks invented by the device; list the client in /);
    expect(printer).toContain(fix);
    // A device on the network, even with the tenant's domain.
    expect(replyOf(() => accountForEnvelopeSender(senders, 'copier@contoso.com', '192.168.1.50'))).toContain(fix);
    // Without the client address the field is still named.
    expect(replyOf(() => accountForEnvelopeSender(senders, 'scan@printer.local'))).toContain('"listen.rewriteSender" ({ "client": "<client address>"');
  });

  it('keeps the sendAs hint for a program on this machine using an address of the tenant', () => {
    expect(replyOf(() => accountForEnvelopeSender(senders, 'ceo@contoso.com', '127.0.0.1'))).toBe(
      '550 5.7.1 Sender <ceo@contoso.com> is not allowed: add it to "sendAs" of an account in the relay\'s configuration',
    );
  });

  it('refuses the null sender', () => {
    expect(replyOf(() => accountForEnvelopeSender(senders, ''))).toMatch(/^550 5\.7\.1 Sender <> is not allowed/);
  });
});

describe('header From', () => {
  it('accepts addresses of the same account, with display names and encoded-words', () => {
    expect(replyOf(() => checkHeaderFrom(sage, ['Sage 100 <sage@contoso.com>']))).toBe('no error');
    expect(replyOf(() => checkHeaderFrom(sage, ['=?UTF-8?B?w4lsaXNlIETDqXBhcnQ=?= <invoices@contoso.com>']))).toBe('no error');
    expect(replyOf(() => checkHeaderFrom(sage, ['"Accounts, Invoices" <noreply@contoso.com>']))).toBe('no error');
    expect(replyOf(() => checkHeaderFrom(sage, ['sage@contoso.com (Sage 100)']))).toBe('no error');
    expect(replyOf(() => checkHeaderFrom(sage, ['sage@contoso.com, Invoices@contoso.com']))).toBe('no error');
  });

  it('refuses an address of another account: Exchange would answer 5.7.60 SendAsDenied', () => {
    expect(replyOf(() => checkHeaderFrom(sage, ['Scanner <scanner@contoso.com>']))).toBe(
      '550 5.7.1 From header address <scanner@contoso.com> is not allowed for this sender',
    );
  });

  it('refuses when any mailbox in the From fields is not allowed', () => {
    expect(replyOf(() => checkHeaderFrom(sage, ['sage@contoso.com, boss@fabrikam.com']))).toMatch(/<boss@fabrikam\.com>/);
    expect(replyOf(() => checkHeaderFrom(sage, ['sage@contoso.com', 'boss@fabrikam.com']))).toMatch(/^550 5\.6\.0 Message has 2 From fields/);
    // RFC 5322 3.6.2: From is a mailbox-list; a group is not one.
    expect(replyOf(() => checkHeaderFrom(sage, ['Team: sage@contoso.com, boss@fabrikam.com;']))).toMatch(/^550 5\.7\.1 From header has no valid address/);
  });

  it('refuses From values that other parsers read differently', () => {
    for (const value of ['<sage@contoso.com> <boss@fabrikam.com>', 'sage@contoso.com boss@fabrikam.com', 'boss@fabrikam.com\\ <sage@contoso.com>', 'sage@contoso.com <boss@fabrikam.com>']) {
      expect(replyOf(() => checkHeaderFrom(sage, [value]))).toMatch(/^550 5\.7\.1 From header has no valid address/);
    }
  });

  it('folds ASCII case only: the Kelvin sign is not a k', () => {
    const kate = { ...sage, sendAs: ['kate@contoso.com'] };
    expect(replyOf(() => checkHeaderFrom(kate, ['KATE@Contoso.COM']))).toBe('no error');
    expect(replyOf(() => checkHeaderFrom(kate, ['\u212Aate@contoso.com']))).toMatch(/^550 5\.7\.1 From header address <\u212Aate@contoso.com> is not allowed/);
    const index = buildSenderIndex([kate]);
    expect(replyOf(() => accountForEnvelopeSender(index, '\u212Aate@contoso.com'))).toMatch(/^550 5\.7\.1 Sender </);
  });

  it('applies the same rule to Sender, Resent-From and Resent-Sender', () => {
    const allowed = allowedSenders(sage);
    const check = (block: string): string => replyOf(() => checkHeaderSenders(block, allowed));
    expect(check('From: sage@contoso.com\r\nSender: invoices@contoso.com\r\nResent-From: noreply@contoso.com\r\n')).toBe('no error');
    expect(check('From: sage@contoso.com\r\nSender: "CEO" <ceo@contoso.com>\r\n')).toBe('550 5.7.1 Sender header address <ceo@contoso.com> is not allowed for this sender');
    expect(check('From: sage@contoso.com\r\nSender: sage@contoso.com\r\nSender: sage@contoso.com\r\n')).toMatch(/^550 5\.6\.0 Message has 2 Sender fields/);
    expect(check('From: sage@contoso.com\r\nSender: sage@contoso.com, invoices@contoso.com\r\n')).toMatch(/^550 5\.7\.1 Sender header has no valid address/);
    expect(check('From: sage@contoso.com\r\nResent-From: a <ceo@contoso.com>\r\n')).toMatch(/^550 5\.7\.1 Resent-From header address <ceo@contoso.com>/);
    expect(check('From: sage@contoso.com\r\nResent-sender : ceo@contoso.com\r\n')).toMatch(/^550 5\.7\.1 Resent-Sender header address <ceo@contoso.com>/);
    // A folded field is one field; a field name with white space before the colon still counts.
    expect(check('From: sage@contoso.com\r\nFrom \r\n : ceo@contoso.com\r\n')).toMatch(/^550 5\.6\.0 Message has 2 From fields/);
  });

  it('is not fooled by an allowed address in the display name', () => {
    expect(replyOf(() => checkHeaderFrom(sage, ['"sage@contoso.com" <boss@fabrikam.com>']))).toMatch(/<boss@fabrikam\.com>/);
  });

  it('refuses a message without From, or with a From that has no address', () => {
    expect(replyOf(() => checkHeaderFrom(sage, []))).toMatch(/^550 5\.7\.1 Message has no From header/);
    expect(replyOf(() => checkHeaderFrom(sage, ['Sage Accounting']))).toMatch(/^550 5\.7\.1 From header has no valid address/);
    expect(replyOf(() => checkHeaderFrom(sage, ['undisclosed-senders:;']))).toMatch(/^550 5\.7\.1 From header has no valid address/);
  });
});

describe('checkHeaderSenders with the same field again (parsed bodies are remembered)', () => {
  it('gives every repeat the answer of the first time: a valid From is still checked against each list, an invalid one refused again', () => {
    const block = 'From: "Sage 100" <invoices@contoso.com>\r\n';
    for (let round = 0; round < 3; round += 1) {
      expect(() => checkHeaderSenders(block, ['invoices@contoso.com'])).not.toThrow();
      // Remembering the parse never remembers the permission.
      expect(replyOf(() => checkHeaderSenders(block, ['someone@contoso.com']))).toMatch(/^550 5\.7\.1 From header address <invoices@contoso.com> is not allowed/);
      expect(replyOf(() => checkHeaderSenders('From: <a@contoso.com> <invoices@contoso.com>\r\n', ['invoices@contoso.com']))).toMatch(/^550 5\.7\.1 From header has no valid address/);
    }
  });

  it('keeps answering correctly past the number of bodies it remembers', () => {
    for (let n = 0; n < 600; n += 1) {
      const address = `user${n}@contoso.com`;
      expect(() => checkHeaderSenders(`From: <${address}>\r\n`, [address])).not.toThrow();
      expect(replyOf(() => checkHeaderSenders(`From: <${address}>\r\n`, ['other@contoso.com']))).toMatch(/^550 5\.7\.1 /);
    }
  });
});
