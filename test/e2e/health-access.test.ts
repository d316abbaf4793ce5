/**
 * The health endpoint of the real relay: a foreign Host header (DNS rebinding) gets 421, and with
 * health.tokenFile set, /status needs the bearer token. See docs/security.md.
 */
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MOCK_MAILBOX } from '../mock-tenant/index.js';
import { FaultFixture } from './fault-fixture.js';

function get(url: URL, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, setHost: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health endpoint access', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('refuses a rebound Host and a missing token; serves the token holder', async () => {
    fixture = await FaultFixture.create();
    const tokenFile = join(fixture.dir, 'health.token');
    await writeFile(tokenFile, 'scrape-token\n', { mode: 0o600 });
    const relay = await fixture.startRelay({ health: { enabled: true, port: 0, tokenFile } });
    const base = new URL(String((await relay.waitForLog((line) => line.msg === 'relay started')).health));
    const status = new URL('/status', base);

    const rebound = await get(status, { host: `attacker.example:${base.port}`, authorization: 'Bearer scrape-token' });
    expect(rebound.status).toBe(421);
    expect(rebound.body).not.toContain(MOCK_MAILBOX);
    const anonymous = await get(status, { host: base.host });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).not.toContain(MOCK_MAILBOX);
    const scraper = await get(status, { host: base.host, authorization: 'Bearer scrape-token' });
    expect(scraper.status).toBe(200);
    expect(scraper.body).toContain(MOCK_MAILBOX);
  });
});
