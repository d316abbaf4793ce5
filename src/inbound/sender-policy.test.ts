import { describe, expect, it } from 'vitest';
import { SmtpReplyError } from '../core/errors.js';
import { testConfig } from '../../test/inbound/config.js';
import { accountForEnvelopeSender, buildSenderIndex, checkHeaderFrom } from './sender-policy.js';

const config = testConfig();
const senders = buildSenderIndex(config.accounts);
const sage = config.accounts[0]!;

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
    expect(replyOf(() => checkHeaderFrom(sage, ['sage@contoso.com', 'boss@fabrikam.com']))).toMatch(/<boss@fabrikam\.com>/);
    expect(replyOf(() => checkHeaderFrom(sage, ['Team: sage@contoso.com, boss@fabrikam.com;']))).toMatch(/<boss@fabrikam\.com>/);
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
