/**
 * `npm run bench:drain`: how fast our relay empties a backlog, and what one delivered message
 * costs. Clients hand over DRAIN_MESSAGES (3,000) at 8 clients, new connection per message; the
 * relay delivers to the mock Exchange (3 connections, no rate limit), partly while intake runs
 * and the rest once it is quiet (src/delivery/intake-priority.ts). Printed per round: intake
 * time and rate, how many went out meanwhile, how long the rest took, and the relay's CPU per
 * message (/proc/<pid>/stat) for intake, for the drain, and overall. DRAIN_ROUNDS (3);
 * BENCH_RELAY_CLI runs another build's dist/cli/main.js, as in bench.ts.
 * Exchange itself allows 30 a minute per mailbox, so this is the relay's own ceiling, not a
 * rate a tenant sees. Speed is the benchmark's to measure, never a test's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMockTenant } from '../test/mock-tenant/index.js';
import { freePort } from '../test/support/ports.js';
import { treeCpuMs } from './cpu-usage.js';
import { messageOnWire } from './messages.js';
import { launchRelay, UNLIMITED_RATE } from './relay-launcher.js';
import { drained, type Target } from './rounds.js';
import { runScenario, SCENARIOS } from './scenarios.js';

const MESSAGES = Math.max(1, Number(process.env.DRAIN_MESSAGES ?? 3000));
const ROUNDS = Math.max(1, Number(process.env.DRAIN_ROUNDS ?? 3));
const PAUSE_MS = 3000;

const perMessage = (cpuMs: number, count: number): string => (count === 0 ? '-' : (cpuMs / count).toFixed(2));

const scenario = SCENARIOS.find((s) => s.key === 'fresh-8');
if (scenario === undefined) throw new Error('no fresh-8 scenario');
const tenant = await startMockTenant();
let delivered = 0;
tenant.upstream.on('message', () => {
  delivered += 1;
  tenant.upstream.messages.length = 0;
});
const folder = await mkdtemp(join(tmpdir(), 'smtp-oauth-relay-drain-'));
const base = tenant.relayConfig(join(folder, 'data'), { listen: { port: 0 } });
const config = { ...base, accounts: base.accounts.map((account) => ({ ...account, rate: UNLIMITED_RATE })) };
const cli = process.env.BENCH_RELAY_CLI;
const relay = await launchRelay({ config, dir: folder, port: await freePort(), ...(cli === undefined ? {} : { cli }) });
try {
  const ours: Target = { name: 'ours', port: relay.port, delivered: () => delivered, cpuMs: () => treeCpuMs(async () => [relay.pid]), sent: 0 };
  const message = messageOnWire(10 * 1024);
  for (let round = 1; round <= ROUNDS; round += 1) {
    const [cpuStart, start, deliveredBefore] = [await ours.cpuMs(), performance.now(), delivered];
    await runScenario(scenario, ours.port, message, MESSAGES);
    ours.sent += MESSAGES;
    const [cpuIntake, intakeEnd, duringIntake] = [await ours.cpuMs(), performance.now(), delivered - deliveredBefore];
    await drained(ours);
    const [cpuEnd, end] = [await ours.cpuMs(), performance.now()];
    const intakeMs = intakeEnd - start;
    console.log(
      `round ${round}: intake ${intakeMs.toFixed(0)} ms (${((MESSAGES * 1000) / intakeMs).toFixed(0)} msg/s, ${duringIntake} delivered meanwhile), ` +
        `the rest delivered ${(end - intakeEnd).toFixed(0)} ms later; relay CPU per message: intake ${perMessage(cpuIntake - cpuStart, MESSAGES)} ms, ` +
        `drain ${perMessage(cpuEnd - cpuIntake, MESSAGES - duringIntake)} ms, overall ${perMessage(cpuEnd - cpuStart, MESSAGES)} ms`,
    );
    await sleep(PAUSE_MS);
  }
} finally {
  await relay.stop();
  await tenant.close();
  await rm(folder, { recursive: true, force: true });
}
