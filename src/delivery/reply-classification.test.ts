import { describe, expect, it } from 'vitest';
import { classifyReply, enhancedCodeOf, REPLY_RULES, type UpstreamOutcome } from './reply-classification.js';

/** Exchange's real texts (M365.md) and the client-side errors nodemailer reports. */
const CASES: ReadonlyArray<{ outcome: UpstreamOutcome; rule: string; action: string }> = [
  { outcome: { code: 250, text: '250 2.0.0 OK <abc@contoso.com> [Hostname=AM0PR01MB1234.eurprd01.prod.exchangelabs.com]' }, rule: 'accepted', action: 'delivered' },
  { outcome: { code: 432, text: '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.' }, rule: 'concurrent-connections', action: 'throttle' },
  { outcome: { code: 432, text: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=AM0PR01MB1234]' }, rule: 'sender-thread-limit', action: 'throttle' },
  { outcome: { code: 554, text: '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception' }, rule: 'daily-recipient-quota', action: 'throttle' },
  { outcome: { code: 550, text: '550 5.2.252 Sender temporarily blocked after continuous errors' }, rule: 'continuous-error-throttling', action: 'throttle' },
  { outcome: { code: 550, text: '550 5.2.255 Message rejected due to continuous errors' }, rule: 'continuous-error-throttling', action: 'throttle' },
  { outcome: { code: 535, text: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.' }, rule: 'smtp-auth-disabled', action: 'reauthenticate' },
  { outcome: { code: 535, text: '535 5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.exchangelabs.com]', errorCode: 'EAUTH' }, rule: 'authentication-unsuccessful', action: 'reauthenticate' },
  { outcome: { code: 554, text: '554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message' }, rule: 'send-as-denied', action: 'fail' },
  { outcome: { code: 550, text: '550 5.7.60 SMTP; Client does not have permissions to send as this sender' }, rule: 'send-as-denied', action: 'fail' },
  { outcome: { code: 550, text: '550 5.7.705 Access denied, tenant has exceeded threshold' }, rule: 'tenant-or-ip-blocked', action: 'reauthenticate' },
  { outcome: { code: 550, text: '550 5.7.708 Access denied, traffic not accepted from this IP' }, rule: 'tenant-or-ip-blocked', action: 'reauthenticate' },
  { outcome: { code: 550, text: '550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains' }, rule: 'tenant-or-ip-blocked', action: 'reauthenticate' },
  { outcome: { code: 421, text: '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.' }, rule: 'tls-version', action: 'defer' },
  { outcome: { code: 432, text: '432 4.3.2 Throttled' }, rule: 'throttled-4.3.2', action: 'throttle' },
  { outcome: { code: 451, text: '451 4.4.0 Primary target IP address responded with: "421 4.4.2 Connection dropped due to SocketError."' }, rule: 'transient', action: 'defer' },
  { outcome: { code: 550, text: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', errorCode: 'EENVELOPE' }, rule: 'permanent', action: 'fail' },
  { outcome: { text: 'self-signed certificate in certificate chain', errorCode: 'ETLS' }, rule: 'tls-error', action: 'defer' },
  { outcome: { text: 'connect ECONNREFUSED 127.0.0.1:587', errorCode: 'ECONNREFUSED' }, rule: 'network-error', action: 'defer' },
  { outcome: { text: 'read ECONNRESET', errorCode: 'ECONNRESET' }, rule: 'network-error', action: 'defer' },
  { outcome: { text: 'Connection timeout', errorCode: 'ETIMEDOUT' }, rule: 'network-error', action: 'defer' },
  { outcome: { text: 'Unexpected socket close', errorCode: 'ESOCKET' }, rule: 'network-error', action: 'defer' },
  { outcome: { text: 'Connection closed unexpectedly', errorCode: 'ECONNECTION' }, rule: 'network-error', action: 'defer' },
  { outcome: { text: "Can't create new access token for user", errorCode: 'EAUTH' }, rule: 'auth-not-possible', action: 'reauthenticate' },
  { outcome: { text: 'Message failed', errorCode: 'EMESSAGE' }, rule: 'unknown', action: 'defer' },
  { outcome: { text: 'ENOENT: no such file or directory' }, rule: 'unknown', action: 'defer' },
];

describe('classifyReply', () => {
  it.each(CASES)('$outcome.text -> $action ($rule)', ({ outcome, rule, action }) => {
    const verdict = classifyReply(outcome);
    expect(verdict.rule).toBe(rule);
    expect(verdict.action).toBe(action);
    expect(verdict.meaning.length).toBeGreaterThan(10);
  });

  it('exercises every row of the table', () => {
    const covered = new Set(CASES.map((c) => classifyReply(c.outcome).rule));
    expect(REPLY_RULES.map((r) => r.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  it('gives every row a source and a meaning', () => {
    for (const rule of REPLY_RULES) {
      expect(rule.source, rule.id).not.toBe('');
      expect(rule.meaning, rule.id).toMatch(/\.$/);
    }
  });

  it('pauses long on the daily quota and refreshes the token first only on 5.7.3', () => {
    expect(classifyReply(CASES[3]!.outcome).pauseSeconds).toBe(3600);
    expect(classifyReply({ code: 535, text: '535 5.7.3 Authentication unsuccessful' }).refreshTokenFirst).toBe(true);
    expect(classifyReply({ code: 535, text: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox' }).refreshTokenFirst).toBe(false);
  });

  it('never bounces a tenant block or a quota (hold or throttle, not fail)', () => {
    for (const code of ['5.7.705', '5.7.708', '5.7.750']) {
      expect(classifyReply({ code: 550, text: `550 ${code} blocked` }).action).not.toBe('fail');
    }
  });

  it('finds enhanced status codes in replies', () => {
    expect(enhancedCodeOf('550 5.7.60 SMTP; Client does not')).toBe('5.7.60');
    expect(enhancedCodeOf('4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded')).toBe('4.3.2');
    expect(enhancedCodeOf('554 5.2.0 STOREDRV.Submission.Exception')).toBe('5.2.0');
    expect(enhancedCodeOf('250 OK')).toBeUndefined();
  });
});
