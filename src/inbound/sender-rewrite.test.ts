import { describe, expect, it } from 'vitest';
import { testConfig } from '../../test/inbound/config.js';
import type { SMTPServerSession } from 'smtp-server';
import { SmtpReplyError } from '../core/errors.js';
import { buildSenderIndex } from './sender-policy.js';
import { createRewriteRules, inventedSenderFix, rewriteSenderHeaders } from './sender-rewrite.js';
import { createSenderPlanner } from './transaction-sender.js';

const rewrite = rewriteSenderHeaders({ original: 'scan@printer.local', mailbox: 'scanner@contoso.com' });

describe('rewriteSenderHeaders', () => {
  it('replaces the address, keeps the display name byte for byte, adds Reply-To', () => {
    expect(rewrite('From: "Scanner, 3rd floor" <scan@printer.local>\r\nSubject: s\r\n')).toBe(
      'From: "Scanner, 3rd floor" <scanner@contoso.com>\r\nSubject: s\r\nReply-To: <scan@printer.local>\r\n',
    );
    expect(rewrite('From: =?utf-8?q?=C3=89tage?= <scan@printer.local>\r\n')).toBe(
      'From: =?utf-8?q?=C3=89tage?= <scanner@contoso.com>\r\nReply-To: <scan@printer.local>\r\n',
    );
  });

  it('handles a bare address, a comment name, folding, no From, and drops Sender', () => {
    expect(rewrite('From: scan@printer.local\r\n')).toBe('From: scanner@contoso.com\r\nReply-To: <scan@printer.local>\r\n');
    expect(rewrite('From: scan@printer.local (Scanner)\r\n')).toBe('From: Scanner <scanner@contoso.com>\r\nReply-To: <scan@printer.local>\r\n');
    expect(rewrite('From: Scanner\r\n <other@printer.local>\r\nSender: x@y\r\nFrom: again@x\r\n')).toBe(
      'From: Scanner <scanner@contoso.com>\r\nReply-To: <other@printer.local>\r\n',
    );
    expect(rewrite('Subject: s\r\n')).toBe('Subject: s\r\nFrom: scanner@contoso.com\r\nReply-To: <scan@printer.local>\r\n');
  });

  it('lets no second From, no Sender and no Resent- sender through', () => {
    expect(
      rewrite('From: a@x\r\nResent-From: ceo@contoso.com\r\nresent-sender: ceo@contoso.com\r\nSENDER: ceo@contoso.com\r\nFrom: ceo@contoso.com\r\n'),
    ).toBe('From: scanner@contoso.com\r\nReply-To: <a@x>\r\n');
  });

  it('keeps an existing Reply-To', () => {
    expect(rewrite('Reply-To: desk@contoso.com\r\nFrom: <scan@printer.local>\r\n')).toBe(
      'Reply-To: desk@contoso.com\r\nFrom: <scanner@contoso.com>\r\n',
    );
  });
});

describe('createRewriteRules', () => {
  it('matches addresses and ranges, mapped IPv6 included, to their account', () => {
    const config = testConfig();
    const rules = createRewriteRules(
      [
        { client: '192.168.1.50', account: 'scanner' },
        { client: '10.0.0.0/8', account: 'sage' },
      ],
      config.accounts,
    );
    expect(rules('192.168.1.50')?.name).toBe('scanner');
    expect(rules('::ffff:192.168.1.50')?.name).toBe('scanner');
    expect(rules('10.2.3.4')?.name).toBe('sage');
    expect(rules('127.0.0.1')).toBeUndefined();
  });
});

describe('rewriteSenderHeaders with several From mailboxes', () => {
  it('keeps one From with the first display name', () => {
    const rewrite = rewriteSenderHeaders({ original: 'a@x', mailbox: 'scanner@contoso.com' });
    expect(rewrite('From: "Desk, A" <a@x>, b@y\r\n')).toBe('From: "Desk, A" <scanner@contoso.com>\r\nReply-To: <a@x>\r\n');
  });
});

describe('an invented sender from a device that is not in listen.rewriteSender', () => {
  const config = testConfig();
  const senders = buildSenderIndex(config.accounts);

  it("is told to list the client's address in listen.rewriteSender, not only to add sendAs", () => {
    const planSender = createSenderPlanner({ authMode: 'optional', senders, accounts: config.accounts, rewriteRules: createRewriteRules([], config.accounts) });
    const session = { remoteAddress: '::ffff:10.0.0.7' } as SMTPServerSession;
    const refusal = (() => {
      try {
        planSender('scanner@printer.local', session);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(SmtpReplyError);
    expect(refusal).toMatchObject({ responseCode: 550, enhancedCode: '5.7.1' });
    expect((refusal as SmtpReplyError).reply).toContain('"listen.rewriteSender" ({ "client": "10.0.0.7"');
  });

  it('names the only account when there is one', () => {
    const [sage] = config.accounts;
    expect(inventedSenderFix('scan@printer.local', '10.0.0.7', buildSenderIndex([sage!]))).toContain('"account": "sage"');
  });
});
