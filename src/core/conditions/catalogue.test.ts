import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classify, conditionById, CONDITIONS, enhancedCodeOf } from './catalogue.js';
import type { Observation } from './types.js';

const smtp = (code: number | undefined, text: string, errorCode?: string): Observation => ({
  origin: 'smtp',
  code,
  text,
  errorCodes: errorCode === undefined ? [] : [errorCode],
});
const graph = (httpStatus: number | undefined, graphCode?: string, errorCode?: string): Observation => ({
  origin: 'graph',
  text: `${httpStatus ?? 'no answer'} ${graphCode ?? ''}`,
  httpStatus,
  graphCode,
  errorCodes: errorCode === undefined ? [] : [errorCode],
});
const identity = (text: string, personMustAct = false, oauthError?: string): Observation => ({ origin: 'identity', text, personMustAct, oauthError });

/**
 * One case per row (at least), with Exchange's and Entra's real texts (docs/exchange-replies.md)
 * and the client-side errors nodemailer and Node report.
 */
const CASES: ReadonlyArray<{ observation: Observation; id: string; action: string; event: string }> = [
  { observation: smtp(250, '250 2.0.0 OK <abc@contoso.com> [Hostname=AM0PR01MB1234.eurprd01.prod.exchangelabs.com]'), id: 'accepted', action: 'delivered', event: 'delivered' },
  // The three shapes of SendAsDenied, one of them under 5.2.252: fail once, no account event.
  { observation: smtp(554, '554 5.2.252 SendAsDeniedException.Mapi.ExRpcException', 'EMESSAGE'), id: 'send-as-denied', action: 'fail', event: 'none' },
  { observation: smtp(554, '554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.', 'EMESSAGE'), id: 'send-as-denied', action: 'fail', event: 'none' },
  { observation: smtp(550, '550 5.7.60 SMTP; Client does not have permissions to send as this sender', 'EENVELOPE'), id: 'send-as-denied', action: 'fail', event: 'none' },
  { observation: smtp(554, '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.'), id: 'daily-recipient-quota', action: 'keep', event: 'throttled' },
  { observation: smtp(432, '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.', 'EAUTH'), id: 'concurrent-connections', action: 'keep', event: 'throttled' },
  { observation: smtp(432, '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=AM0PR01MB1234]', 'EENVELOPE'), id: 'sender-thread-limit', action: 'keep', event: 'throttled' },
  { observation: smtp(535, '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.', 'EAUTH'), id: 'smtp-auth-disabled', action: 'keep', event: 'admin-action-required' },
  { observation: smtp(535, '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.', 'EAUTH'), id: 'smtp-auth-disabled', action: 'keep', event: 'admin-action-required' },
  { observation: smtp(undefined, 'Error initiating TLS - Client network socket disconnected before secure TLS connection was established', 'ETLS'), id: 'starttls-failed', action: 'keep', event: 'tls-failed' },
  { observation: { origin: 'smtp', text: 'Connection closed', errorCodes: ['ESOCKET', 'DEPTH_ZERO_SELF_SIGNED_CERT'] }, id: 'certificate-untrusted', action: 'keep', event: 'tls-failed' },
  // A refused STARTTLS carries a 5xx reply: never "permanent", never a bounce.
  { observation: smtp(500, '500 5.5.1 Error: command not recognized', 'ETLS'), id: 'starttls-failed', action: 'keep', event: 'tls-failed' },
  { observation: smtp(454, '454 4.7.0 TLS not available due to temporary reason', 'ETLS'), id: 'starttls-failed', action: 'keep', event: 'tls-failed' },
  { observation: smtp(421, '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls.'), id: 'tls-version', action: 'keep', event: 'tls-failed' },
  { observation: smtp(535, '535 5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.exchangelabs.com]', 'EAUTH'), id: 'authentication-unsuccessful', action: 'keep', event: 'sign-in-refused' },
  { observation: smtp(550, '550 5.7.705 Access denied, tenant has exceeded threshold'), id: 'tenant-or-ip-blocked', action: 'keep', event: 'admin-action-required' },
  { observation: smtp(550, '550 5.7.708 Access denied, traffic not accepted from this IP'), id: 'tenant-or-ip-blocked', action: 'keep', event: 'admin-action-required' },
  { observation: smtp(550, '550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains'), id: 'tenant-or-ip-blocked', action: 'keep', event: 'admin-action-required' },
  { observation: smtp(550, '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', 'EENVELOPE'), id: 'recipient-not-found', action: 'fail', event: 'none' },
  { observation: smtp(552, '552 5.3.4 Message size exceeds fixed maximum message size', 'EMESSAGE'), id: 'message-too-big', action: 'fail', event: 'none' },
  { observation: smtp(432, '432 4.3.2 Throttled'), id: 'throttled-4.3.2', action: 'keep', event: 'throttled' },
  { observation: { origin: 'graph', text: 'Application is over its MailboxConcurrency limit.', httpStatus: 429, graphCode: 'ApplicationThrottled' }, id: 'http-throttled', action: 'keep', event: 'throttled' },
  { observation: smtp(421, '421 4.3.2 Service not available, closing transmission channel'), id: 'service-not-available', action: 'defer', event: 'upstream-unreachable' },
  { observation: smtp(451, '451 4.4.0 Primary target IP address responded with: "421 4.4.2 Connection dropped due to SocketError."'), id: 'transient', action: 'defer', event: 'none' },
  { observation: smtp(550, '550 5.7.1 Unable to relay'), id: 'permanent', action: 'fail', event: 'none' },
  // The unconfirmed "5.2.251-255 throttling" range is gone: such a reply is an ordinary permanent one.
  { observation: smtp(550, '550 5.2.255 Message rejected'), id: 'permanent', action: 'fail', event: 'none' },
  { observation: smtp(undefined, 'connect ECONNREFUSED 127.0.0.1:587', 'ECONNREFUSED'), id: 'network-error', action: 'defer', event: 'upstream-unreachable' },
  { observation: smtp(undefined, 'read ECONNRESET', 'ECONNRESET'), id: 'network-error', action: 'defer', event: 'upstream-unreachable' },
  { observation: smtp(undefined, 'Connection timeout', 'ETIMEDOUT'), id: 'network-error', action: 'defer', event: 'upstream-unreachable' },
  { observation: smtp(undefined, 'Connection closed unexpectedly', 'ECONNECTION'), id: 'network-error', action: 'defer', event: 'upstream-unreachable' },
  { observation: smtp(undefined, "Can't create new access token for user", 'EAUTH'), id: 'auth-not-possible', action: 'keep', event: 'sign-in-refused' },
  { observation: smtp(undefined, 'Message failed', 'EMESSAGE'), id: 'unknown', action: 'defer', event: 'none' },
  // Entra, as the token providers see it.
  { observation: identity('AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID', true), id: 'client-secret-invalid', action: 'keep', event: 'admin-action-required' },
  { observation: identity('AADSTS7000222: The provided client secret keys for app are expired.', true), id: 'client-secret-invalid', action: 'keep', event: 'admin-action-required' },
  { observation: identity('Account "sage": no client secret is configured or stored; store one with `smtp-oauth-relay secret set --account sage` (the secret is read from stdin).', true), id: 'client-secret-invalid', action: 'keep', event: 'admin-action-required' },
  { observation: identity('AADSTS65001: The user or administrator has not consented to use the application', true), id: 'consent-missing', action: 'keep', event: 'admin-action-required' },
  { observation: identity('AADSTS90002: Tenant contoso.example not found.', true), id: 'unknown-app-or-tenant', action: 'keep', event: 'admin-action-required' },
  { observation: identity('AADSTS53003: Access has been blocked by Conditional Access policies.', true), id: 'account-blocked', action: 'keep', event: 'admin-action-required' },
  { observation: identity('AADSTS700082: The refresh token has expired due to inactivity.', true, 'invalid_grant'), id: 'sign-in-again', action: 'keep', event: 'sign-in-refused' },
  { observation: identity('interaction_required: no refresh token in the cache', true, 'interaction_required'), id: 'identity-refused', action: 'keep', event: 'sign-in-refused' },
  { observation: identity('getaddrinfo ENOTFOUND login.microsoftonline.com'), id: 'identity-provider-unreachable', action: 'keep', event: 'identity-provider-unreachable' },
  // Microsoft Graph (https://learn.microsoft.com/graph/errors): specific codes before statuses.
  { observation: graph(403, 'ErrorSendAsDenied'), id: 'graph-send-as-denied', action: 'fail', event: 'none' },
  { observation: graph(400, 'ErrorInvalidRecipients'), id: 'graph-invalid-recipients', action: 'fail', event: 'none' },
  { observation: graph(413, 'RequestEntityTooLarge'), id: 'graph-message-too-large', action: 'fail', event: 'none' },
  { observation: graph(404, 'MailboxNotEnabledForRESTAPI'), id: 'graph-mailbox-not-rest', action: 'keep', event: 'admin-action-required' },
  { observation: graph(404, 'ErrorInvalidUser'), id: 'graph-unknown-mailbox', action: 'keep', event: 'admin-action-required' },
  { observation: graph(507, 'ErrorQuotaExceeded'), id: 'graph-mailbox-full', action: 'keep', event: 'admin-action-required' },
  { observation: graph(undefined, 'UploadBudgetUsedUp'), id: 'graph-upload-budget', action: 'keep', event: 'throttled' },
  { observation: graph(503, 'ServiceUnavailable'), id: 'graph-busy', action: 'keep', event: 'throttled' },
  { observation: graph(401, 'InvalidAuthenticationToken'), id: 'graph-token-refused', action: 'keep', event: 'sign-in-refused' },
  { observation: graph(403, 'ErrorAccessDenied'), id: 'graph-access-denied', action: 'keep', event: 'admin-action-required' },
  { observation: graph(502), id: 'graph-server-error', action: 'defer', event: 'none' },
  { observation: graph(undefined, 'ECONNREFUSED', 'ECONNREFUSED'), id: 'graph-network-error', action: 'defer', event: 'upstream-unreachable' },
  { observation: graph(400, 'SomethingNew'), id: 'graph-unknown', action: 'defer', event: 'none' },
  { observation: identity('AADSTS700027: Client assertion failed signature validation.', true), id: 'client-certificate-refused', action: 'keep', event: 'admin-action-required' },
  { observation: { origin: 'local', text: '4.4.7 Delivery time expired: not delivered within 120 hours' }, id: 'expired', action: 'fail', event: 'none' },
];

/** Rows only ever named by id (no matcher), with who names them. */
const NAMED_ONLY = new Set(['local-error']);

describe('the catalogue of conditions', () => {
  it.each(CASES)('$observation.text -> $id ($action, $event)', ({ observation, id, action, event }) => {
    const condition = classify(observation);
    expect(condition.id).toBe(id);
    expect(condition.action).toBe(action);
    expect(condition.event).toBe(event);
    expect(condition.meaning).toMatch(/^[A-Z].{10,}\.$/);
  });

  it('has every row exercised by a real reply above (a new row needs a case)', () => {
    const exercised = new Set(CASES.map((c) => classify(c.observation).id));
    const never = CONDITIONS.map((c) => c.id).filter((id) => !exercised.has(id) && !NAMED_ONLY.has(id));
    expect(never).toEqual([]);
    for (const id of NAMED_ONLY) expect(conditionById(id)?.when).toBeUndefined();
  });

  it('has unique ids, a public source on every row, and no source outside the repository', () => {
    const ids = CONDITIONS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const condition of CONDITIONS) {
      expect(condition.source).toMatch(/https:\/\/|RFC \d+|The relay itself|Conservative default/);
      expect(condition.source).not.toMatch(/M365\.md|DESIGN\.md|\/work\//);
    }
  });

  it('is listed whole in docs/exchange-replies.md', () => {
    const doc = readFileSync(new URL('../../../docs/exchange-replies.md', import.meta.url), 'utf8');
    expect(CONDITIONS.map((c) => c.id).filter((id) => !doc.includes(`| \`${id}\` |`))).toEqual([]);
  });

  it('keeps the daily quota pause and the token refresh of 5.7.3 as data', () => {
    expect(classify(CASES[4]!.observation).pauseSeconds).toBe(3600);
    expect(classify(smtp(535, '535 5.7.3 Authentication unsuccessful')).refreshTokenFirst).toBe(true);
    expect(classify(smtp(535, '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox')).refreshTokenFirst).toBeUndefined();
  });

  it('never bounces a tenant or IP block, and never holds an account for SendAsDenied', () => {
    for (const code of ['5.7.705', '5.7.708', '5.7.750']) expect(classify(smtp(550, `550 ${code} blocked`)).action).not.toBe('fail');
    for (const c of CASES.filter((x) => x.id === 'send-as-denied')) expect(classify(c.observation).event).toBe('none');
  });

  it('finds the enhanced code in Exchange replies', () => {
    expect(enhancedCodeOf('550 5.7.60 SMTP; Client does not have permissions')).toBe('5.7.60');
    expect(enhancedCodeOf('554 5.2.252 SendAsDeniedException.Mapi.ExRpcException')).toBe('5.2.252');
    expect(enhancedCodeOf('Remote server returned #5.1.10 RESOLVER')).toBe('5.1.10');
    expect(enhancedCodeOf('no code here 12.3')).toBeUndefined();
  });

  it('never lets a Graph answer fall through to an SMTP row, and gives each Graph row its SMTP equivalent', () => {
    // A Graph text that quotes an SMTP-looking code still classifies by Graph's rows.
    expect(classify({ origin: 'graph', text: '550 5.7.60 SendAsDenied', httpStatus: 400, graphCode: 'Other' }).id).toBe('graph-unknown');
    for (const condition of CONDITIONS.filter((c) => c.id.startsWith('graph-') || c.id === 'http-throttled')) {
      const [code, enhanced] = condition.smtpEquivalent ?? [0, ''];
      expect(String(code)[0]).toBe(enhanced[0]);
      if (condition.action === 'fail') expect(code).toBeGreaterThanOrEqual(500);
    }
  });
});
