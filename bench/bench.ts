/**
 * `npm run bench`: the real relay process (dist/cli/main.js serve) against the local mock
 * tenant, on 127.0.0.1 only, bounded in messages and time.
 *   1. delivery throughput alone: a queue of 10 KB messages drained by a restarted relay;
 *   2. submission latency and rate for 10 KB messages in four scenarios (scenarios.ts),
 *      while the relay delivers in the background to the mock Exchange (3 connections);
 *   3. the relay's peak memory while it accepts and delivers one 30 MB message (fresh process).
 * The bench process (clients, mock Exchange, log parsing) shares the machine's cores with the
 * relay, so the numbers are those of the whole path on one machine.
 * Prints a table, then a JSON summary on stdout.
 *
 * Environment: BENCH_MESSAGES (2000 per scenario), BENCH_WARMUP (100), BENCH_LARGE_MB (30),
 * BENCH_TIMEOUT_S (300, the whole run), BENCH_RELAY_NODE_ARGS (e.g. "--cpu-prof" to profile the relay).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockTenant, type MockTenant } from '../test/mock-tenant/index.js';
import { RelayProcess } from '../test/support/relay-process.js';
import { summarize } from './latency-stats.js';
import { messageOnWire, RECIPIENT, SENDER, streamLargeMessage } from './messages.js';
import { processMemory } from './process-memory.js';
import { formatTable, machine, TARGETS, type BenchSummary, type DeliveryResult, type MemoryResult, type ScenarioResult } from './report.js';
import { runScenario, SCENARIOS } from './scenarios.js';
import { BenchSmtpClient, expectCode } from './smtp-client.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const WARM_UP = Number(process.env.BENCH_WARMUP ?? 100);
const MESSAGE_BYTES = 10 * 1024;
const LARGE_BYTES = Number(process.env.BENCH_LARGE_MB ?? 30) * 1024 * 1024;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 300);
const RELAY_NODE_ARGS = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
/** Longest wait for the queue to drain after a scenario. */
const DRAIN_TIMEOUT_MS = 120_000;

const say = (text: string): void => void process.stderr.write(`${text}\n`);
const seconds = (ns: bigint): number => Number(ns) / 1e9;

/** Everything the run started, stopped in `finally` or by the watchdog. */
const running = { relay: undefined as RelayProcess | undefined, tenant: undefined as MockTenant | undefined, dirs: [] as string[] };

async function stopAll(): Promise<void> {
  await running.relay?.kill('SIGTERM');
  running.relay = undefined;
  await running.tenant?.close();
  running.tenant = undefined;
  await Promise.all(running.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Exchange allows 30 a minute; the mock has no rate limit, so pace only by the 3 connections. */
const UNLIMITED = { messages: 100_000, perSeconds: 1 };
/** One message an hour: the queue fills while nothing is delivered. */
const HOLD_BACK = { messages: 1, perSeconds: 3600 };

/** A relay on `dir` (a fresh folder when not given) whose account sends at `rate`. */
async function startRelay(tenant: MockTenant, rate = UNLIMITED, dir?: string): Promise<RelayProcess> {
  const folder = dir ?? (await mkdtemp(join(tmpdir(), 'smtp-oauth-relay-bench-')));
  if (dir === undefined) running.dirs.push(folder);
  const base = tenant.relayConfig(join(folder, 'data'), { listen: { port: 0 } });
  const config = { ...base, accounts: base.accounts.map((account) => ({ ...account, rate })) };
  const relay = await RelayProcess.start({ config, dir: folder, nodeArgs: RELAY_NODE_ARGS });
  running.relay = relay;
  return relay;
}

async function stopRelay(relay: RelayProcess): Promise<void> {
  await relay.kill('SIGTERM');
  running.relay = undefined;
}

/** Counts messages accepted upstream and when the last one arrived. */
interface UpstreamCounter {
  readonly count: number;
  readonly lastAt: bigint;
  /** When the n-th message (from 0) arrived. */
  arrivedAt(index: number): bigint;
  until(total: number): Promise<void>;
}

function upstreamCounter(tenant: MockTenant): UpstreamCounter {
  let count = 0;
  const arrivals: bigint[] = [];
  let lastAt = 0n;
  const waiters: { total: number; resolve: () => void }[] = [];
  tenant.upstream.on('message', () => {
    count += 1;
    lastAt = process.hrtime.bigint();
    arrivals.push(lastAt);
    // Only counts matter here; keep the bench process from holding every message body.
    tenant.upstream.messages.length = 0;
    for (const waiter of waiters.filter((w) => count >= w.total)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    get count() {
      return count;
    },
    arrivedAt(index: number): bigint {
      const at = arrivals[index];
      if (at === undefined) throw new Error(`message ${index} has not arrived upstream`);
      return at;
    },
    get lastAt() {
      return lastAt;
    },
    until(total: number): Promise<void> {
      if (count >= total) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${count} of ${total} messages reached the mock Exchange`)), DRAIN_TIMEOUT_MS);
        waiters.push({ total, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

/** Waits until the relay has logged `total` deliveries (its spool is then empty again). */
async function relayDelivered(relay: RelayProcess, total: number): Promise<void> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (relay.linesWith('message delivered').length < total) {
    if (Date.now() > deadline) throw new Error(`the relay logged ${relay.linesWith('message delivered').length} of ${total} deliveries`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function submissionScenarios(tenant: MockTenant, upstream: UpstreamCounter): Promise<ScenarioResult[]> {
  const relay = await startRelay(tenant);
  const message = messageOnWire(MESSAGE_BYTES);
  const results: ScenarioResult[] = [];
  let sent = upstream.count;
  for (const scenario of SCENARIOS) {
    say(`${scenario.name}: ${WARM_UP} warm-up + ${MESSAGES} messages`);
    await runScenario(scenario, relay.port, message, WARM_UP);
    sent += WARM_UP;
    await upstream.until(sent);
    await relayDelivered(relay, sent);

    const started = process.hrtime.bigint();
    const run = await runScenario(scenario, relay.port, message, MESSAGES);
    const lastAccepted = process.hrtime.bigint();
    sent += MESSAGES;
    await upstream.until(sent);
    const drained = upstream.lastAt;
    await relayDelivered(relay, sent);

    const latency = summarize(run.latenciesNs);
    results.push({
      name: scenario.name,
      messages: run.latenciesNs.length,
      messagesPerSecond: run.latenciesNs.length / seconds(run.elapsedNs),
      latency,
      deliverySeconds: seconds(drained - started),
      drainAfterAcceptMs: Math.max(0, Number(drained - lastAccepted) / 1e6),
      ...(scenario.mode === 'per-message'
        ? { target: { medianMs: TARGETS.perMessageMedianMs, met: latency.medianMs < TARGETS.perMessageMedianMs } }
        : {}),
    });
  }
  await stopRelay(relay);
  return results;
}

/**
 * Delivery alone: a relay allowed one message an hour queues MESSAGES messages and stops; a
 * relay restarted on the same spool with no rate limit then delivers them, with no client
 * competing for the CPU. Timed from the first to the last message the mock Exchange accepted.
 */
async function deliveryThroughput(tenant: MockTenant, upstream: UpstreamCounter): Promise<DeliveryResult> {
  say(`delivery: ${MESSAGES} queued messages drained by a restarted relay`);
  const dir = await mkdtemp(join(tmpdir(), 'smtp-oauth-relay-bench-'));
  running.dirs.push(dir);
  const filling = await startRelay(tenant, HOLD_BACK, dir);
  const reused = SCENARIOS.find((scenario) => scenario.mode === 'reused' && scenario.clients > 1) ?? SCENARIOS[0]!;
  await runScenario(reused, filling.port, messageOnWire(MESSAGE_BYTES), MESSAGES);
  await stopRelay(filling);
  const queued = MESSAGES - filling.linesWith('message delivered').length;

  const before = upstream.count;
  const connectionsBefore = tenant.upstream.connectionCount;
  const spawned = process.hrtime.bigint();
  const draining = await startRelay(tenant, UNLIMITED, dir);
  await upstream.until(before + queued);
  const connections = tenant.upstream.connectionCount - connectionsBefore;
  await relayDelivered(draining, queued);
  await stopRelay(draining);
  const first = upstream.arrivedAt(before);
  const last = upstream.arrivedAt(before + queued - 1);
  return {
    messages: queued,
    secondsFromStart: seconds(last - spawned),
    secondsFromFirst: seconds(last - first),
    messagesPerSecond: (queued - 1) / seconds(last - first),
    upstreamConnections: connections,
  };
}

async function largeMessageMemory(tenant: MockTenant): Promise<MemoryResult> {
  say(`memory: one ${LARGE_BYTES / 1024 / 1024} MiB message through a fresh relay`);
  const relay = await startRelay(tenant);
  const pid = relay.child.pid;
  if (pid === undefined) throw new Error('relay has no pid');
  const before = await processMemory(pid);
  const received = new Promise<number>((resolve) => tenant.upstream.once('message', (m: { raw: Buffer }) => resolve(m.raw.length)));

  const client = await BenchSmtpClient.open(relay.port);
  let messageBytes: number;
  try {
    expectCode(await client.reply(), 220, 'greeting');
    expectCode(await client.command('EHLO bench.local'), 250, 'EHLO');
    expectCode(await client.command(`MAIL FROM:<${SENDER}>`), 250, 'MAIL FROM');
    expectCode(await client.command(`RCPT TO:<${RECIPIENT}>`), 250, 'RCPT TO');
    expectCode(await client.command('DATA'), 354, 'DATA');
    const reply = client.reply();
    messageBytes = await streamLargeMessage(client.stream, LARGE_BYTES);
    expectCode(await reply, 250, 'end of data');
    await client.quit();
  } finally {
    client.destroy();
  }
  const upstreamBytes = await received;
  if (upstreamBytes !== messageBytes) throw new Error(`mock Exchange received ${upstreamBytes} bytes, the bench sent ${messageBytes}`);
  await relay.waitForLog((line) => line.msg === 'message delivered', DRAIN_TIMEOUT_MS);
  const after = await processMemory(pid);
  await stopRelay(relay);
  return {
    messageBytes,
    rssBeforeMb: before.rssMb,
    peakBeforeMb: before.peakRssMb,
    rssAfterMb: after.rssMb,
    peakMb: after.peakRssMb,
    targetMb: TARGETS.largeMessagePeakMb,
    met: after.peakRssMb < TARGETS.largeMessagePeakMb,
  };
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    say(`benchmark still running after ${TIMEOUT_S} s: stopping`);
    void stopAll().finally(() => process.exit(1));
  }, TIMEOUT_S * 1000);
  watchdog.unref();
  try {
    // One mock tenant per measurement, so each counts only its own messages and connections.
    running.tenant = await startMockTenant();
    const delivery = await deliveryThroughput(running.tenant, upstreamCounter(running.tenant));
    await running.tenant.close();
    running.tenant = await startMockTenant();
    const scenarios = await submissionScenarios(running.tenant, upstreamCounter(running.tenant));
    await running.tenant.close();
    running.tenant = await startMockTenant();
    const memory = await largeMessageMemory(running.tenant);
    const summary: BenchSummary = { ...machine(), messageBytes: MESSAGE_BYTES, warmUp: WARM_UP, scenarios, delivery, memory };
    process.stdout.write(`\n${formatTable(summary)}\n\n${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    clearTimeout(watchdog);
    await stopAll();
  }
}

await main();
