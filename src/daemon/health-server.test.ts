import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { RelayMetrics } from '../health/metrics.js';
import { hostOf, readHealthToken } from './health-access.js';
import { isLoopbackHost, startHealthServer, type HealthServer, type HealthServerOptions } from './health-server.js';

/** A GET with exactly these headers (fetch will not send an arbitrary Host). */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health endpoint', () => {
  let server: HealthServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function start(
    status: () => Promise<unknown> = async () => ({ schema: 'stub', daemon: 'up' }),
    extra: Partial<HealthServerOptions> = {},
  ): Promise<{ base: string; metrics: RelayMetrics }> {
    const metrics = new RelayMetrics({ defaultMetrics: false, accounts: ['sage'] });
    server = await startHealthServer({ host: '127.0.0.1', port: 0, status, metrics: metrics.registry, logger: silentLogger(), ...extra });
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

describe('who may read the health endpoint', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const start = async (extra: Partial<HealthServerOptions> = {}): Promise<string> => {
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      status: async () => ({ mailbox: 'sage@contoso.example' }),
      metrics: new RelayMetrics({ defaultMetrics: false }).registry,
      logger: silentLogger(),
      ...extra,
    });
    return server.url;
  };

  it('answers 421 to a Host that is not its own (DNS rebinding), and serves loopback names and allowed hosts', async () => {
    const base = await start({ allowedHosts: ['relay.contoso.local'] });
    const port = server!.address.port;
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1.evil.example', 'relay.contoso.local.evil.example']) {
      const answer = await get(`${base}/status`, { host });
      expect(answer.status, host).toBe(421);
      expect(answer.body).not.toContain('sage@contoso.example');
    }
    // No Host at all: Node's HTTP server answers 400 itself (RFC 9112 3.2).
    expect((await get(`${base}/healthz`, {})).status).toBe(400);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, 'relay.contoso.local', `relay.contoso.local:${port}`]) {
      expect((await get(`${base}/status`, { host })).status, host).toBe(200);
    }
  });

  it('with a bearer token, /status and /metrics need it (401 otherwise); /healthz stays open', async () => {
    const base = await start({ bearerToken: 'monitor-token-1' });
    const host = `127.0.0.1:${server!.address.port}`;
    const refused = await get(`${base}/status`, { host });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('Bearer');
    expect(refused.body).not.toContain('sage@contoso.example');
    expect((await get(`${base}/metrics`, { host, authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get(`${base}/status`, { host, authorization: 'Basic bW9uaXRvcjp4' })).status).toBe(401);
    expect((await get(`${base}/status`, { host, authorization: 'Bearer monitor-token-1' })).status).toBe(200);
    expect((await get(`${base}/metrics`, { host, authorization: 'bearer monitor-token-1' })).status).toBe(200);
    expect((await get(`${base}/healthz`, { host })).status).toBe(200);
  });

  it('reads the token from an owner-only file or an environment variable, and names the field when it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'health-token-'));
    try {
      const file = join(dir, 'health.token');
      await writeFile(file, 'from-a-file\n', { mode: 0o600 });
      const health = (fields: object) => configSchema.parse({ accounts: [{ name: 'a', mailbox: 'a@contoso.example', auth: { method: 'client-credentials', tenantId: 't', clientId: 'c' } }], health: fields }).health;
      expect(readHealthToken(health({}), 'relay.json')).toBeUndefined();
      expect(readHealthToken(health({ tokenFile: file }), 'relay.json')).toBe('from-a-file');
      expect(readHealthToken(health({ tokenEnv: 'HEALTH_TOKEN' }), 'relay.json', { HEALTH_TOKEN: 'from-env' })).toBe('from-env');
      expect(() => readHealthToken(health({ tokenEnv: 'HEALTH_TOKEN' }), 'relay.json', {})).toThrow(ConfigError);
      expect(() => readHealthToken(health({ tokenFile: join(dir, 'missing') }), 'relay.json')).toThrow(/health.tokenFile/);
      if (process.platform !== 'win32') {
        await chmod(file, 0o644);
        expect(() => readHealthToken(health({ tokenFile: file }), 'relay.json')).toThrow(/other users can read it/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the host part of a Host header', () => {
    expect(hostOf('[::1]:9465')).toBe('::1');
    expect(hostOf('Localhost.:80')).toBe('localhost');
    expect(hostOf('127.0.0.1')).toBe('127.0.0.1');
  });
});

describe('isLoopbackHost', () => {
  it('knows loopback from the rest', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '192.168.1.10', 'relay.contoso.local'].some(isLoopbackHost)).toBe(false);
  });
});
