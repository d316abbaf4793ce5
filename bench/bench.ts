/**
 * `npm run bench`: our relay (dist/cli/main.js serve, against the local mock tenant) beside
 * Postfix as a plain queueing relay (bench/postfix.ts), in one sitting, on 127.0.0.1 only:
 *   1. idle RSS of each, after start;
 *   2. a start-up warm-up: the first BENCH_START_WARMUP messages after start, new connections from
 *      8 clients, on each relay, reported as its own line ("cold start"): our relay runs on V8,
 *      which optimises the accept path's code only after some thousands of messages (on the
 *      2-core machine of docs/performance.md the first 1,250 came in at about 70% of the rate
 *      of the next 1,250; with V8's optimising compiler off, `--no-opt`, every batch stayed at
 *      the first one's rate), while Postfix, compiled ahead of time, has nothing to warm up; a
 *      relay in service is past that point after its first few batches;
 *   3. six submission scenarios (scenarios.ts) of 10 KiB messages, each run in alternating
 *      rounds (ours, Postfix, ours, Postfix...) so that both see the same machine; delivery runs
 *      in the background (ours to the mock Exchange, Postfix to a plain sink), and each round
 *      ends when its relay has delivered it; CPU per message of each relay and of the bench
 *      process over each round (cpu-usage.ts, rounds.ts);
 *   4. an AUTH flood from six processes while a normal client submits (flood.ts), each relay
 *      fresh;
 *   5. one 30 MiB message through a fresh relay: time to 250 and peak RSS.
 * Without Postfix (not installed, not root, not Linux) it prints our figures alone and says why.
 * Prints a table with ratios, then a JSON summary on stdout; docs/performance.md explains both.
 *
 * Environment: BENCH_MESSAGES (600 per scenario and relay), BENCH_ROUNDS (3), BENCH_WARMUP (50 per
 * scenario), BENCH_START_WARMUP (3000 after start, 0 to measure the scenarios on a cold relay),
 * BENCH_LARGE_MB (30), BENCH_FLOOD_S (20), BENCH_TIMEOUT_S (900, the whole run),
 * BENCH_RELAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the relay), BENCH_RELAY_CLI
 * (another build's dist/cli/main.js, for a before/after run), BENCH_ONLY
 * (comma-separated parts: idle,scenarios,flood,large), BENCH_SCENARIOS (keys in scenarios.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestCertificates, startMockTenant, writeCaFile, type MockTenant } from '../test/mock-tenant/index.js';
import { addUser, usersFilePath } from '../src/inbound/local-users.js';
import { authFlood } from './flood.js';
import { launchRelay, UNLIMITED_RATE, type LaunchedRelay } from './relay-launcher.js';
import { treeCpuMs } from './cpu-usage.js';
import { messageOnWire, RECIPIENT, SENDER, streamLargeMessage } from './messages.js';
import { startPostfix, postfixUnavailable, type PostfixRelay } from './postfix.js';
import { processMemory } from './process-memory.js';
import { formatTable, machine, targetsOf, type BenchSummary, type LargeResult } from './report.js';
import { coldStart, drained, runScenarios, type Target } from './rounds.js';
import type { Credentials } from './scenarios.js';
import { startPlainSink, type PlainSink } from './sink.js';
import { BenchSmtpClient, expectCode } from './smtp-client.js';
import { freePort } from '../test/support/ports.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 600);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const WARM_UP = Number(process.env.BENCH_WARMUP ?? 50);
const START_WARM_UP = Number(process.env.BENCH_START_WARMUP ?? 3000);
const MESSAGE_BYTES = 10 * 1024;
const LARGE_BYTES = Number(process.env.BENCH_LARGE_MB ?? 30) * 1024 * 1024;
const FLOOD_MS = Number(process.env.BENCH_FLOOD_S ?? 20) * 1000;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 900);
const RELAY_NODE_ARGS = (process.env.BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
/** BENCH_RELAY_CLI: another build's dist/cli/main.js as "ours" (a before/after comparison). */
const RELAY_CLI_OVERRIDE = process.env.BENCH_RELAY_CLI;
const SCENARIO_KEYS = process.env.BENCH_SCENARIOS?.split(',');
const ONLY = new Set((process.env.BENCH_ONLY ?? 'idle,scenarios,flood,large').split(','));
/** V8's memory reducer runs some 8-15 s after activity stops: "idle" is after it. */
const IDLE_SETTLE_MS = 20_000;
/** After work, also past the scrypt thread's idle stop (scrypt-threads.ts, 30 s). */
const IDLE_AFTER_WORK_MS = 35_000;
const CREDENTIALS: Credentials = { user: 'sage-bench', password: 'bench-password-1' };
const MAX_MESSAGE_BYTES = 40 * 1024 * 1024;
/** What the relay may add to a message's header on the way (largeOurs). */
const ADDED_HEADER_BYTES = 4096;

const say = (text: string): void => void process.stderr.write(`${text}\n`);

/** Everything the run started, stopped in `finally` or by the watchdog. */
const running = {
  relays: new Set<LaunchedRelay>(),
  tenant: undefined as MockTenant | undefined,
  sink: undefined as PlainSink | undefined,
  postfix: undefined as PostfixRelay | undefined,
  dirs: [] as string[],
};

async function stopAll(): Promise<void> {
  for (const relay of running.relays) await relay.stop();
  running.relays.clear();
  await running.postfix?.stop();
  running.postfix = undefined;
  await running.tenant?.close();
  await running.sink?.close();
  await Promise.all(running.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** BENCH_HOLD_DELIVERY=1: our relay delivers nothing (one an hour), to see what delivery costs intake. */
const OUR_RATE = process.env.BENCH_HOLD_DELIVERY === '1' ? { messages: 1, perSeconds: 3600 } : UNLIMITED_RATE;

/**
 * A fresh relay in a fresh folder, with the bench's local user. Started once before, as an
 * installed relay has been: its first start makes the local TLS certificate, which a running
 * relay then reads (local-tls.ts); that one-time work is not what a relay costs day to day.
 */
async function startRelay(tenant: MockTenant): Promise<LaunchedRelay> {
  const folder = await mkdtemp(join(tmpdir(), 'smtp-oauth-relay-bench-'));
  running.dirs.push(folder);
  const dataDir = join(folder, 'data');
  await addUser(usersFilePath(dataDir), CREDENTIALS.user, CREDENTIALS.password, { account: 'sage' });
  const base = tenant.relayConfig(dataDir, { listen: { port: 0 } });
  const config = { ...base, accounts: base.accounts.map((account) => ({ ...account, rate: OUR_RATE })) };
  const port = await freePort();
  const cli = RELAY_CLI_OVERRIDE === undefined ? {} : { cli: RELAY_CLI_OVERRIDE };
  const installing = await launchRelay({ config, dir: folder, port, ...cli });
  await installing.stop();
  const relay = await launchRelay({ config, dir: folder, port, nodeArgs: RELAY_NODE_ARGS, ...cli });
  running.relays.add(relay);
  return relay;
}

async function stopRelay(relay: LaunchedRelay): Promise<void> {
  await relay.stop();
  running.relays.delete(relay);
}

const relayPid = (relay: LaunchedRelay): number => relay.pid;

async function postfixMemory(postfix: PostfixRelay): Promise<{ rssMb: number; peakMb: number; peakSumMb: number; processes: number }> {
  const all = await Promise.all((await postfix.pids()).map((pid) => processMemory(pid).catch(() => undefined)));
  const known = all.filter((memory) => memory !== undefined);
  return {
    rssMb: known.reduce((sum, m) => sum + m.rssMb, 0),
    peakMb: Math.max(0, ...known.map((m) => m.peakRssMb)),
    peakSumMb: known.reduce((sum, m) => sum + m.peakRssMb, 0),
    processes: known.length,
  };
}

async function sendLarge(port: number): Promise<{ bytes: number; acceptMs: number }> {
  const client = await BenchSmtpClient.open(port);
  try {
    expectCode(await client.reply(), 220, 'greeting');
    expectCode(await client.command('EHLO bench.local'), 250, 'EHLO');
    expectCode(await client.command(`MAIL FROM:<${SENDER}>`), 250, 'MAIL FROM');
    expectCode(await client.command(`RCPT TO:<${RECIPIENT}>`), 250, 'RCPT TO');
    expectCode(await client.command('DATA'), 354, 'DATA');
    const started = process.hrtime.bigint();
    const reply = client.reply();
    const bytes = await streamLargeMessage(client.stream, LARGE_BYTES);
    expectCode(await reply, 250, 'end of data');
    const acceptMs = Number(process.hrtime.bigint() - started) / 1e6;
    await client.quit();
    return { bytes, acceptMs };
  } finally {
    client.destroy();
  }
}

async function largeOurs(tenant: MockTenant): Promise<LargeResult> {
  say(`large: one ${LARGE_BYTES / 1024 / 1024} MiB message through a fresh relay`);
  const relay = await startRelay(tenant);
  // As in service: the message arrives at a relay that has been up a while, not during its start.
  await sleep(IDLE_SETTLE_MS);
  const received = new Promise<number>((resolve) => tenant.upstream.once('message', (m: { raw: Buffer }) => resolve(m.raw.length)));
  const { bytes, acceptMs } = await sendLarge(relay.port);
  const upstreamBytes = await received;
  // The relay may add header lines of its own (a trace field, RFC 5321 section 4.4): a few
  // hundred bytes more, never fewer.
  if (upstreamBytes < bytes || upstreamBytes > bytes + ADDED_HEADER_BYTES) {
    throw new Error(`mock Exchange received ${upstreamBytes} bytes, the bench sent ${bytes}`);
  }
  // Let the relay finish the delivery (remove the message) before reading its peak.
  await sleep(500);
  const memory = await processMemory(relayPid(relay));
  await stopRelay(relay);
  return { messageBytes: bytes, acceptMs, peakMb: memory.peakRssMb };
}

async function largePostfix(postfix: PostfixRelay, target: Target): Promise<LargeResult> {
  say('large: the same message through Postfix');
  const { bytes, acceptMs } = await sendLarge(postfix.port);
  target.sent += 1;
  await drained(target);
  const memory = await postfixMemory(postfix);
  return { messageBytes: bytes, acceptMs, peakMb: memory.peakMb, peakSumMb: memory.peakSumMb };
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    say(`benchmark still running after ${TIMEOUT_S} s: stopping`);
    void stopAll().finally(() => process.exit(1));
  }, TIMEOUT_S * 1000);
  watchdog.unref();
  // Stopped from outside (Ctrl-C, timeout): Postfix and the relays must not outlive the bench.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  }
  try {
    const tenant = (running.tenant = await startMockTenant());
    let upstreamCount = 0;
    tenant.upstream.on('message', () => {
      upstreamCount += 1;
      // Only counts matter here; keep the bench process from holding every message body.
      tenant.upstream.messages.length = 0;
    });
    const unavailable = postfixUnavailable();
    const certificates = await createTestCertificates();
    let postfixTarget: Target | undefined;
    let postfixVersion: string | undefined;
    if (unavailable === undefined) {
      const sink = (running.sink = await startPlainSink(certificates));
      const dir = await mkdtemp(join(tmpdir(), 'postfix-bench-'));
      running.dirs.push(dir);
      const caFile = await writeCaFile(certificates, dir);
      running.postfix = await startPostfix(dir, await freePort(), sink.port, MAX_MESSAGE_BYTES, caFile);
      postfixVersion = await running.postfix.version();
      const postfix = running.postfix;
      postfixTarget = { name: 'Postfix', port: postfix.port, delivered: () => sink.count, cpuMs: () => treeCpuMs(() => postfix.pids()), sent: 0 };
    } else {
      say(`no Postfix comparison: ${unavailable}`);
    }

    const relay = await startRelay(tenant);
    const held = OUR_RATE !== UNLIMITED_RATE;
    const ours: Target = {
      name: 'ours',
      port: relay.port,
      delivered: () => (held ? Number.POSITIVE_INFINITY : upstreamCount),
      cpuMs: () => treeCpuMs(async () => [relay.pid]),
      sent: 0,
    };
    await sleep(IDLE_SETTLE_MS);
    const oursIdle = await processMemory(relayPid(relay));
    const postfixIdle = running.postfix === undefined ? undefined : await postfixMemory(running.postfix);
    say(`idle RSS: ours ${oursIdle.rssMb.toFixed(1)} MiB${postfixIdle === undefined ? '' : `, Postfix ${postfixIdle.rssMb.toFixed(1)} MiB`}`);

    const rounds = { message: messageOnWire(MESSAGE_BYTES), messages: MESSAGES, rounds: ROUNDS, warmUp: WARM_UP, credentials: CREDENTIALS, keys: SCENARIO_KEYS, say };
    const cold = ONLY.has('scenarios') && START_WARM_UP > 0 ? await coldStart(ours, postfixTarget, rounds, START_WARM_UP) : undefined;
    // The warm-up's 6,000 files were just deleted: on a file system mounted with `discard` (this
    // machine's is), the journal commits that follow, our fsyncs and Postfix's, carry the TRIM of
    // their blocks for a while. Both relays idle as long as after their start, so that the
    // scenarios meet the disk they met without the warm-up (docs/performance.md, "Cold start").
    if (cold !== undefined) await sleep(IDLE_SETTLE_MS);
    const scenarioResults = ONLY.has('scenarios') ? await runScenarios(ours, postfixTarget, rounds) : [];
    const oursPeakAfterScenariosMb = (await processMemory(relayPid(relay))).peakRssMb;
    // Idle again after work: MSAL, nodemailer and the TLS session to Exchange are loaded by now.
    await sleep(IDLE_AFTER_WORK_MS);
    const oursIdleAfterWork = await processMemory(relayPid(relay));
    await stopRelay(relay);

    let flood: BenchSummary['flood'];
    if (ONLY.has('flood')) {
      say(`AUTH flood: ${FLOOD_MS / 1000} s against a fresh relay of ours`);
      const floodRelay = await startRelay(tenant);
      // As in service: the flood meets a relay that has been up a while, not one still starting.
      await sleep(IDLE_SETTLE_MS);
      const oursFlood = await authFlood(floodRelay.port, messageOnWire(MESSAGE_BYTES), FLOOD_MS, CREDENTIALS.user);
      const peakRssMb = (await processMemory(relayPid(floodRelay))).peakRssMb;
      await stopRelay(floodRelay);
      let postfixFlood;
      if (running.postfix !== undefined) {
        say(`AUTH flood: ${FLOOD_MS / 1000} s against Postfix`);
        postfixFlood = await authFlood(running.postfix.port, messageOnWire(MESSAGE_BYTES), FLOOD_MS, CREDENTIALS.user);
      }
      flood = { ours: { ...oursFlood, peakRssMb }, ...(postfixFlood === undefined ? {} : { postfix: postfixFlood }) };
    }

    let large: BenchSummary['large'];
    if (ONLY.has('large')) {
      const oursLarge = await largeOurs(tenant);
      const postfixLarge = running.postfix !== undefined && postfixTarget !== undefined ? await largePostfix(running.postfix, postfixTarget) : undefined;
      large = { ours: oursLarge, ...(postfixLarge === undefined ? {} : { postfix: postfixLarge }) };
    }

    const partial: Omit<BenchSummary, 'targets'> = {
      ...machine(),
      messageBytes: MESSAGE_BYTES,
      rounds: ROUNDS,
      postfix: unavailable === undefined ? { ...(postfixVersion === undefined ? {} : { version: postfixVersion }) } : { unavailable },
      ...(cold === undefined ? {} : { coldStart: cold }),
      scenarios: scenarioResults,
      idle: {
        ours: { idleRssMb: oursIdle.rssMb, afterWorkRssMb: oursIdleAfterWork.rssMb },
        ...(postfixIdle === undefined ? {} : { postfix: { idleRssMb: postfixIdle.rssMb, processes: postfixIdle.processes } }),
      },
      oursPeakAfterScenariosMb,
      ...(large === undefined ? {} : { large }),
      ...(flood === undefined ? {} : { flood }),
    };
    const summary: BenchSummary = { ...partial, targets: targetsOf(partial) };
    process.stdout.write(`\n${formatTable(summary)}\n\n${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    clearTimeout(watchdog);
    await stopAll();
  }
}

await main();
