/**
 * The composition root's parts are one ordered list (src/daemon/part-list.ts): a start that
 * fails half-way stops what had started, so the control channel (the single-instance lock),
 * the spool and sign-in are released and the next start in the same process succeeds.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config-load.js';
import { silentLogger } from '../../src/core/logger.js';
import { Relay } from '../../src/daemon/relay.js';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function configWithPort(tenant: MockTenant, dir: string, port: number) {
  const file = join(dir, `relay-${port}.json`);
  await writeFile(file, JSON.stringify(tenant.relayConfig(join(dir, 'data'), { listen: { port }, log: { file: false } })), { mode: 0o600 });
  return loadConfig(file).config;
}

describe.skipIf(process.platform === 'win32')('Relay start and stop as one list', () => {
  it('a start that fails at the SMTP listener releases every part it had started', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-parts-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const tenant = await startMockTenant();
    cleanup.push(() => tenant.close());
    const squatter = await listenOn(0);
    const busyPort = (squatter.address() as AddressInfo).port;

    const failed = Relay.start({ config: await configWithPort(tenant, dir, busyPort), logger: silentLogger(), version: 'test', stopTimeoutMs: 100 });
    await expect(failed).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await new Promise<void>((resolve) => squatter.close(() => resolve()));

    // Had the control channel stayed open, this would fail as "already running".
    const relay = await Relay.start({ config: await configWithPort(tenant, dir, 0), logger: silentLogger(), version: 'test', stopTimeoutMs: 100 });
    expect(relay.smtpAddress.port).toBeGreaterThan(0);
    await relay.stop();
    await expect(relay.stop()).resolves.toBeUndefined();
  });
});
