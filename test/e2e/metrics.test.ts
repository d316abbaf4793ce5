/**
 * The health endpoint of the real relay process, with the mock tenant: one message delivered,
 * one refused for good (5.7.60), then /metrics, /healthz, /status and the refusals (404, 405).
 * The relay logs the endpoint's real address on 'relay started' as `health: "http://127.0.0.1:PORT"`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { statusReportSchema } from '../../src/health/status-report.js';
import { EXCHANGE_REPLIES, MOCK_MAILBOX } from '../mock-tenant/index.js';
import { FaultFixture, LegacyClient, SENDER, waitUntil } from './fault-fixture.js';

/** The value of one series in the Prometheus text format. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('health endpoint and metrics (real relay)', () => {
  let fixture: FaultFixture | undefined;

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail' && fixture !== undefined) process.stdout.write(`${fixture.logs()}\n`);
    await fixture?.close();
    fixture = undefined;
  });

  it('counts one delivered and one failed message, and serves /healthz, /status, 404 and 405', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    // Mail from SENDER is refused for good; mail from the mailbox itself (and the DSN) goes through.
    upstream.script({ phase: 'mail', reply: EXCHANGE_REPLIES.sendAsDenied, times: Infinity, match: (context) => context.mailFrom === SENDER });
    const relay = await fixture.startRelay({ health: { enabled: true, host: '127.0.0.1', port: 0 } });
    const account = fixture.config().accounts[0]?.name ?? 'missing';

    const started = relay.linesWith('relay started')[0];
    const base = String(started?.health ?? '');
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const client = await LegacyClient.connect(relay.port);
    const denied = await client.send('metrics-denied', SENDER);
    const delivered = await client.send('metrics-delivered', MOCK_MAILBOX);
    await client.quit();
    const dsn = await relay.waitForLog((line) => line.msg === 'delivery status notification queued' && line.id === denied);
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === delivered);
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === dsn.dsn);
    // The DSN's removal from the queue follows its log line: wait until the queue is empty.
    await waitUntil('an empty queue', async () => (await fixture?.queueList(relay))?.length === 0);

    const scraped = await fetch(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await scraped.text();
    const labels = `account="${account}"`;
    expect(value(text, `smtp_relay_messages_accepted_total{${labels}}`)).toBe(2);
    // The DSN is the relay's own message: neither accepted nor counted as delivered.
    expect(value(text, `smtp_relay_messages_delivered_total{${labels}}`)).toBe(1);
    expect(value(text, `smtp_relay_messages_failed_total{${labels},reason="send-as-denied"}`)).toBe(1);
    expect(value(text, `smtp_relay_delivery_latency_seconds_count{${labels}}`)).toBe(1);
    for (const state of ['waiting', 'deferred', 'held']) {
      expect(value(text, `smtp_relay_queue_depth{${labels},state="${state}"}`)).toBe(0);
    }
    expect(value(text, `smtp_relay_token_refreshes_total{${labels}}`)).toBeGreaterThanOrEqual(1);
    expect(text).toContain('process_resident_memory_bytes');

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect((await health.text()).trim()).toBe('ok');

    const status = await fetch(`${base}/status`);
    expect(status.status).toBe(200);
    const report = statusReportSchema.parse(await status.json());
    expect(report.schemaVersion).toBe(1);

    expect((await fetch(`${base}/nothing-here`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: '' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('serves nothing when the endpoint is off (the default)', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay();
    expect(relay.linesWith('relay started')[0]?.health).toBeUndefined();
    expect(relay.linesWith('health endpoint listening')).toEqual([]);
  });
});
