import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { QUEUE_RECORD_VERSION, type QueueRecord } from '../core/queue-record.js';
import type { SignInState } from '../core/sign-in-state.js';
import { queueDepthRows, RelayMetrics, type QueueDepthRow } from './metrics.js';

function record(id: string, fields: Partial<QueueRecord> = {}): QueueRecord {
  return {
    version: QUEUE_RECORD_VERSION,
    id,
    kind: 'message',
    account: 'sage',
    receivedAt: '2025-01-01T00:00:00.000Z',
    client: { address: '127.0.0.1' },
    mailFrom: 'accounts@contoso.com',
    size: 10,
    recipients: [{ address: 'a@fabrikam.com', status: 'pending' }],
    attempts: 0,
    nextAttemptAt: '2025-01-01T00:00:00.000Z',
    ...fields,
  };
}

/** The value of one series in the text format, e.g. value(text, 'x_total{account="sage"}'). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('RelayMetrics', () => {
  it('counts messages, deferrals, failures by reason and token requests', async () => {
    const metrics = new RelayMetrics({ accounts: ['sage', 'printer'], defaultMetrics: false });
    metrics.accepted('sage');
    metrics.accepted('sage');
    metrics.deferred('sage', 'transient');
    metrics.failed('sage', 'send-as-denied');
    metrics.tokenRequest('sage', { ok: true });
    metrics.tokenRequest('sage', { ok: false, error: 'AADSTS7000215' });
    metrics.tokenRefreshFailed('sage', 'AADSTS7000215');

    const text = await metrics.text();
    expect(value(text, 'smtp_relay_messages_accepted_total{account="sage"}')).toBe(2);
    expect(value(text, 'smtp_relay_messages_accepted_total{account="printer"}')).toBe(0);
    expect(value(text, 'smtp_relay_messages_delivered_total{account="printer"}')).toBe(0);
    expect(value(text, 'smtp_relay_delivery_attempts_deferred_total{account="sage",reason="transient"}')).toBe(1);
    expect(value(text, 'smtp_relay_messages_failed_total{account="sage",reason="send-as-denied"}')).toBe(1);
    expect(value(text, 'smtp_relay_token_refreshes_total{account="sage"}')).toBe(1);
    expect(value(text, 'smtp_relay_token_refresh_failures_total{account="sage",error="AADSTS7000215"}')).toBe(2);
    expect(text).toContain('# TYPE smtp_relay_messages_failed_total counter');
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('observes the delivery latency from acceptance in seconds, in buckets up to days', async () => {
    const metrics = new RelayMetrics({ defaultMetrics: false });
    const acceptedAt = Date.parse('2025-01-01T00:00:00.000Z');
    metrics.delivered('sage', '2025-01-01T00:00:00.000Z', acceptedAt + 3_000);
    metrics.delivered('sage', acceptedAt, acceptedAt + 2 * 3600_000);

    const text = await metrics.text();
    expect(value(text, 'smtp_relay_messages_delivered_total{account="sage"}')).toBe(2);
    expect(value(text, 'smtp_relay_delivery_latency_seconds_count{account="sage"}')).toBe(2);
    expect(value(text, 'smtp_relay_delivery_latency_seconds_sum{account="sage"}')).toBe(7203);
    expect(value(text, 'smtp_relay_delivery_latency_seconds_bucket{le="5",account="sage"}')).toBe(1);
    expect(value(text, 'smtp_relay_delivery_latency_seconds_bucket{le="7200",account="sage"}')).toBe(2);
    expect(value(text, 'smtp_relay_delivery_latency_seconds_bucket{le="172800",account="sage"}')).toBe(2);
  });

  it('counts only client messages through the delivery observer, not DSNs or notices', async () => {
    const metrics = new RelayMetrics({ defaultMetrics: false });
    const observer = metrics.deliveryObserver();
    const now = Date.parse('2025-01-01T00:01:00.000Z');
    observer.delivered(record('m1'), now);
    observer.delivered(record('d1', { kind: 'dsn' }), now);
    observer.failed(record('m2'), 'send-as-denied');
    observer.failed(record('n1', { kind: 'notice' }), 'permanent');
    observer.deferred(record('m3'), 'transient');

    const text = await metrics.text();
    expect(value(text, 'smtp_relay_messages_delivered_total{account="sage"}')).toBe(1);
    expect(value(text, 'smtp_relay_delivery_latency_seconds_sum{account="sage"}')).toBe(60);
    expect(value(text, 'smtp_relay_messages_failed_total{account="sage",reason="send-as-denied"}')).toBe(1);
    expect(value(text, 'smtp_relay_messages_failed_total{account="sage",reason="permanent"}')).toBeUndefined();
    expect(value(text, 'smtp_relay_delivery_attempts_deferred_total{account="sage",reason="transient"}')).toBe(1);
  });

  it('reads the queue depth and the refresh-token expiry at scrape time', async () => {
    const clock = new ManualClock(Date.parse('2025-01-01T00:00:00.000Z'));
    let rows: QueueDepthRow[] = [{ account: 'sage', state: 'deferred', count: 3 }];
    const states: SignInState[] = [
      { version: 1, account: 'sage', method: 'delegated', status: 'ok', refreshTokenExpiresAt: '2025-01-11T00:00:00.000Z' },
      { version: 1, account: 'printer', method: 'client-credentials', status: 'ok' },
    ];
    const metrics = new RelayMetrics({ clock, defaultMetrics: false, queueSnapshot: () => rows, signInStates: async () => states });

    let text = await metrics.text();
    expect(value(text, 'smtp_relay_queue_depth{account="sage",state="deferred"}')).toBe(3);
    expect(value(text, 'smtp_relay_refresh_token_expiry_seconds{account="sage"}')).toBe(10 * 86400);
    expect(text).not.toContain('smtp_relay_refresh_token_expiry_seconds{account="printer"}');

    rows = [{ account: 'sage', state: 'waiting', count: 1 }];
    await clock.advance(86400_000);
    text = await metrics.text();
    // The previous scrape's series are gone, not left at their old value.
    expect(value(text, 'smtp_relay_queue_depth{account="sage",state="deferred"}')).toBeUndefined();
    expect(value(text, 'smtp_relay_queue_depth{account="sage",state="waiting"}')).toBe(1);
    expect(value(text, 'smtp_relay_refresh_token_expiry_seconds{account="sage"}')).toBe(9 * 86400);
  });

  it('includes the process metrics in its own registry only', async () => {
    const first = new RelayMetrics();
    const second = new RelayMetrics();
    const text = await first.text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    first.accepted('sage');
    expect(value(await second.text(), 'smtp_relay_messages_accepted_total{account="sage"}')).toBeUndefined();
  });
});

describe('queueDepthRows', () => {
  it('sorts records into waiting, deferred and held, with zeros for every configured account', () => {
    const rows = queueDepthRows(
      [record('a'), record('b', { attempts: 2 }), record('c', { attempts: 1 }), record('d', { account: 'printer' }), record('e', { account: 'printer', attempts: 3 })],
      new Set(['printer']),
      ['sage', 'printer', 'idle'],
    );
    expect(rows).toEqual([
      { account: 'sage', state: 'waiting', count: 1 },
      { account: 'sage', state: 'deferred', count: 2 },
      { account: 'sage', state: 'held', count: 0 },
      { account: 'printer', state: 'waiting', count: 0 },
      { account: 'printer', state: 'deferred', count: 0 },
      { account: 'printer', state: 'held', count: 2 },
      { account: 'idle', state: 'waiting', count: 0 },
      { account: 'idle', state: 'deferred', count: 0 },
      { account: 'idle', state: 'held', count: 0 },
    ]);
  });
});
