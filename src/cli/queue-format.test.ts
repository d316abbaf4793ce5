import { describe, expect, it } from 'vitest';
import type { QueueEntry } from '../daemon/queue-commands.js';
import { formatQueueEntry, formatQueueTable } from './queue-format.js';

const refused = { code: 550, text: '550 5.7.60 SMTP; Client does not have permissions to send as this sender', at: '2026-06-01T11:00:00.000Z', condition: 'send-as-denied' };
const failed: QueueEntry = {
  version: 1,
  id: 'q1',
  kind: 'message',
  account: 'sage',
  receivedAt: '2026-06-01T10:59:00.000Z',
  client: { address: '127.0.0.1' },
  mailFrom: 'invoices@contoso.example',
  size: 10,
  recipients: [{ address: 'b@fabrikam.example', status: 'failed', lastReply: refused }],
  attempts: 1,
  nextAttemptAt: '2026-06-01T10:59:00.000Z',
  lastReply: refused,
  folder: 'failed',
};

describe('the failed view', () => {
  it('shows tries, the last reply once, and the final reason, and no next attempt', () => {
    const text = formatQueueEntry({ ...failed, emlPath: '/x/q1.eml' });
    expect(text).toContain('attempts:      1');
    expect(text).toContain('last reply:    550 5.7.60 SMTP; Client does not have permissions');
    expect(text).not.toContain('550 550');
    expect(text).toContain('final reason:  The mailbox has no permission to send as this sender address (SendAsDenied).');
    expect(text).not.toContain('next attempt');
    const table = formatQueueTable([failed], 'failed', Date.parse('2026-06-01T12:00:00Z'));
    expect(table).toMatch(/FINAL REASON/);
    expect(table).toContain('The mailbox has no permission to send as this sender address');
  });

  it('finds the last reply of a message refused at its first try in its recipient', () => {
    const { lastReply: _dropped, ...withoutLast } = failed;
    expect(formatQueueEntry({ ...withoutLast, emlPath: '/x/q1.eml' })).toContain('last reply:    550 5.7.60');
  });
});
