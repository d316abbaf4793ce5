/**
 * Idle RSS of one or more builds side by side: each round starts one relay per build at the
 * same moment (same machine load), in front of the mock tenant, waits until V8's memory reducer
 * has run, and reads VmRSS. `IDLE_CLIS` lists the builds' dist/cli/main.js (comma-separated;
 * this worktree's by default), `IDLE_ROUNDS` the rounds (3).
 *
 *   IDLE_CLIS=/tmp/base/dist/cli/main.js,dist/cli/main.js npx tsx bench/idle-rss.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RELAY_CLI } from '../test/support/relay-process.js';
import { startMockTenant } from '../test/mock-tenant/index.js';
import { processMemory } from './process-memory.js';
import { launchRelay } from './relay-launcher.js';
import { freePort } from '../test/support/ports.js';

const CLIS = (process.env.IDLE_CLIS ?? RELAY_CLI).split(',').map((cli) => resolve(cli));
const ROUNDS = Number(process.env.IDLE_ROUNDS ?? 3);
const SETTLE_MS = 20_000;
/** Node flags for the relays, e.g. `--import` of a module-tracing hook (what a start loads). */
const NODE_ARGS = (process.env.IDLE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');

const tenant = await startMockTenant();
const figures = new Map<string, number[]>(CLIS.map((cli) => [cli, []]));
try {
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = await Promise.all(
      CLIS.map(async (cli) => {
        const dir = await mkdtemp(join(tmpdir(), 'idle-rss-'));
        const config = tenant.relayConfig(join(dir, 'data'), { listen: { port: 0 } });
        const port = await freePort();
        // The first start makes the local TLS certificate, as an installed relay's has.
        await (await launchRelay({ config, dir, port, cli })).stop();
        return { cli, dir, relay: await launchRelay({ config, dir, port, cli, nodeArgs: NODE_ARGS }) };
      }),
    );
    await new Promise((done) => setTimeout(done, SETTLE_MS));
    for (const { cli, dir, relay } of started) {
      figures.get(cli)?.push((await processMemory(relay.pid)).rssMb);
      await relay.stop();
      if (process.env.IDLE_KEEP_LOGS === '1') console.log(`kept ${relay.logFile}`);
      else await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await tenant.close();
}
for (const [cli, rss] of figures) {
  const sorted = [...rss].sort((a, b) => a - b);
  console.log(`${cli}: idle RSS MiB ${rss.map((mb) => mb.toFixed(1)).join(' ')} (median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)})`);
}
