import { describe, expect, it } from 'vitest';
import { classifyReply } from '../reply-classification.js';
import { classifyGraphOutcome, findGraphCondition, GRAPH_CONDITIONS } from './graph-conditions.js';

describe('Graph condition table', () => {
  it.each([
    [{ status: 403, code: 'ErrorSendAsDenied' }, 'graph-send-as-denied', 'fail'],
    [{ status: 400, code: 'ErrorInvalidRecipients' }, 'graph-invalid-recipients', 'fail'],
    [{ status: 413, code: 'RequestEntityTooLarge' }, 'graph-message-too-large', 'fail'],
    [{ status: 404, code: 'MailboxNotEnabledForRESTAPI' }, 'graph-mailbox-not-rest', 'reauthenticate'],
    [{ status: 404, code: 'ErrorInvalidUser' }, 'graph-unknown-mailbox', 'reauthenticate'],
    [{ status: 429, code: 'ApplicationThrottled', retryAfterSeconds: 5 }, 'graph-throttled', 'throttle'],
    [{ status: 503, code: 'ServiceUnavailable', retryAfterSeconds: 30 }, 'graph-unavailable-retry-after', 'throttle'],
    [{ status: 401, code: 'InvalidAuthenticationToken' }, 'graph-token-refused', 'reauthenticate'],
    [{ status: 403, code: 'ErrorAccessDenied' }, 'graph-access-denied', 'reauthenticate'],
    [{ status: 502 }, 'graph-server-error', 'defer'],
    [{ code: 'ECONNREFUSED' }, 'graph-network-error', 'defer'],
    [{ status: 400, code: 'SomethingNew' }, 'graph-unknown', 'defer'],
  ] as const)('%o -> %s (%s)', (outcome, rule, action) => {
    const verdict = classifyGraphOutcome({ message: 'm', ...outcome });
    expect(verdict.rule).toBe(rule);
    expect(verdict.action).toBe(action);
  });

  it('ErrorSendAsDenied wins over the generic 403 row (order matters)', () => {
    expect(findGraphCondition({ status: 403, code: 'ErrorSendAsDenied', message: '' }).action).toBe('fail');
    expect(findGraphCondition({ status: 403, code: 'ErrorAccessDenied', message: '' }).action).toBe('hold-for-admin');
  });

  it('throttling pauses for exactly Retry-After; a 401 is retried with a new token before holding', () => {
    expect(classifyGraphOutcome({ status: 429, message: '', retryAfterSeconds: 5 }).pauseSeconds).toBe(5);
    expect(classifyGraphOutcome({ status: 401, message: '' }).refreshTokenFirst).toBe(true);
    expect(classifyGraphOutcome({ status: 403, code: 'ErrorAccessDenied', message: '' }).refreshTokenFirst).toBe(false);
  });

  it('a hold carries the fix an administrator applies', () => {
    expect(classifyGraphOutcome({ status: 403, code: 'ErrorAccessDenied', message: '' }).meaning).toMatch(/Fix: .*Application Mail\.Send/);
  });

  it('classifyReply returns the classification a Graph sender attached', () => {
    const classification = classifyGraphOutcome({ status: 404, code: 'MailboxNotEnabledForRESTAPI', message: '' });
    expect(classifyReply({ code: 451, text: '451 4.7.0 Microsoft Graph ...', classification })).toBe(classification);
  });

  it('every row has a meaning, a source and an SMTP equivalent of the right class; the last row catches all', () => {
    for (const row of GRAPH_CONDITIONS) {
      expect(row.meaning.length).toBeGreaterThan(10);
      expect(row.source.length).toBeGreaterThan(5);
      const [code, enhanced] = row.smtp;
      expect(String(code)[0]).toBe(enhanced[0]);
      if (row.action === 'fail') expect(code).toBeGreaterThanOrEqual(500);
    }
    expect(GRAPH_CONDITIONS[GRAPH_CONDITIONS.length - 1]!.when).toEqual({});
  });
});
