import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { RelayMetrics } from '../health/metrics.js';
import { isLoopbackHost, startHealthServer, type HealthServer } from './health-server.js';

describe('health endpoint', () => {
  let server: HealthServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(status: () => Promise<unknown> = async () => ({ schema: 'stub', daemon: 'up' })): Promise<{ base: string; metrics: RelayMetrics }> {
    const metrics = new RelayMetrics({ defaultMetrics: false, accounts: ['sage'] });
    server = await startHealthServer({ host: '127.0.0.1', port: 0, status, metrics: metrics.registry, logger: silentLogger() });
    return { base: server.url, metrics };
  }

  it('answers /healthz with 200 ok on the ephemeral port it reports', async () => {
    const { base } = await start();
    expect(server?.address.host).toBe('127.0.0.1');
    expect(server?.address.port).toBeGreaterThan(0);
    expect(base).toBe(`http://127.0.0.1:${server?.address.port}`);
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect((await response.text()).trim()).toBe('ok');
  });

  it('serves /status as JSON from the callback, and /metrics in the Prometheus format', async () => {
    const { base, metrics } = await start();
    metrics.accepted('sage');
    const status = await fetch(`${base}/status?verbose=1`);
    expect(status.status).toBe(200);
    expect(status.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await status.json()).toEqual({ schema: 'stub', daemon: 'up' });

    const scraped = await fetch(`${base}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toBe(metrics.contentType);
    expect(await scraped.text()).toContain('smtp_relay_messages_accepted_total{account="sage"} 1');
  });

  it('answers 404 for other paths and 405 with Allow for other methods', async () => {
    const { base } = await start();
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect((await fetch(`${base}/healthz`, { method: 'DELETE' })).status).toBe(405);
  });

  it('answers 500 when the status cannot be had, and keeps serving', async () => {
    const { base } = await start(async () => {
      throw new Error('control channel gone');
    });
    const response = await fetch(`${base}/status`);
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('control channel gone');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('refuses to start on a port already taken', async () => {
    await start();
    const taken = server?.address.port ?? 0;
    await expect(
      startHealthServer({ host: '127.0.0.1', port: taken, status: async () => ({}), metrics: new RelayMetrics({ defaultMetrics: false }).registry, logger: silentLogger() }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('isLoopbackHost', () => {
  it('knows loopback from the rest', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.10', 'relay.contoso.local'].some(isLoopbackHost)).toBe(false);
  });
});
