import { describe, expect, it } from 'vitest';
import { SmtpReplyError } from '../core/errors.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { ClientLimits } from './client-limits.js';

function replyOf(action: () => void): string {
  try {
    action();
    return 'admitted';
  } catch (err) {
    if (err instanceof SmtpReplyError) return err.reply;
    throw err;
  }
}

describe('ClientLimits', () => {
  it('admits maxConnections per address, refuses the next with 421 4.7.0, and admits again after a release', () => {
    const limits = new ClientLimits({ maxConnections: 2, messagesPerMinute: 10 }, new ManualClock());
    expect(replyOf(() => limits.admitConnection('192.168.1.50'))).toBe('admitted');
    expect(replyOf(() => limits.admitConnection('::ffff:192.168.1.50'))).toBe('admitted');
    expect(replyOf(() => limits.admitConnection('192.168.1.50'))).toBe(
      '421 4.7.0 Too many connections from 192.168.1.50, try again later',
    );
    // Another client is not affected.
    expect(replyOf(() => limits.admitConnection('192.168.1.51'))).toBe('admitted');
    limits.releaseConnection('192.168.1.50');
    expect(limits.openConnections('192.168.1.50')).toBe(1);
    expect(replyOf(() => limits.admitConnection('192.168.1.50'))).toBe('admitted');
    limits.releaseConnection('192.168.1.50');
    limits.releaseConnection('192.168.1.50');
    limits.releaseConnection('192.168.1.50');
    expect(limits.openConnections('192.168.1.50')).toBe(0);
  });

  it('admits messagesPerMinute in any 60 s window and refuses more with 451 4.7.1', async () => {
    const clock = new ManualClock();
    const limits = new ClientLimits({ maxConnections: 2, messagesPerMinute: 3 }, clock);
    limits.admitMessage('10.0.0.7');
    await clock.advance(20_000);
    limits.admitMessage('10.0.0.7');
    limits.admitMessage('10.0.0.7');
    expect(replyOf(() => limits.admitMessage('10.0.0.7'))).toBe('451 4.7.1 Too many messages from 10.0.0.7, slow down');
    expect(replyOf(() => limits.admitMessage('10.0.0.8'))).toBe('admitted');
    // The first message leaves the window 60 s after it started: one more fits, not two.
    await clock.advance(39_999);
    expect(replyOf(() => limits.admitMessage('10.0.0.7'))).toMatch(/^451/);
    await clock.advance(1);
    expect(replyOf(() => limits.admitMessage('10.0.0.7'))).toBe('admitted');
    expect(replyOf(() => limits.admitMessage('10.0.0.7'))).toMatch(/^451/);
    // A refused message does not count: after the window, the full rate is back.
    await clock.advance(60_000);
    for (let i = 0; i < 3; i++) expect(replyOf(() => limits.admitMessage('10.0.0.7'))).toBe('admitted');
  });

  it('leaves loopback clients alone by default, and limits them when includeLoopback is set', () => {
    const exempt = new ClientLimits({ maxConnections: 1, messagesPerMinute: 1 }, new ManualClock());
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.0.0.1']) {
      expect(replyOf(() => exempt.admitConnection(address))).toBe('admitted');
      expect(replyOf(() => exempt.admitMessage(address))).toBe('admitted');
    }
    const strict = new ClientLimits({ maxConnections: 1, messagesPerMinute: 1, includeLoopback: true }, new ManualClock());
    expect(replyOf(() => strict.admitConnection('127.0.0.1'))).toBe('admitted');
    expect(replyOf(() => strict.admitConnection('127.0.0.1'))).toBe('421 4.7.0 Too many connections from 127.0.0.1, try again later');
  });
});
