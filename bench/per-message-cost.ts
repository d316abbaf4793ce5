/**
 * What one accepted-and-delivered message costs our relay, for two or more builds side by side:
 * CPU time of the relay process (all threads, /proc/<pid>/stat utime + stime) per message and
 * the fresh-connection median, one client, in alternating rounds; with COST_STRACE=1 instead the
 * relay runs under `strace -f -c` and the syscalls per message are counted (fsync, rename,
 * unlink...), which on a shared machine is the figure that does not vary.
 *
 *   COST_CLIS=/tmp/base/dist/cli/main.js,dist/cli/main.js npx tsx bench/per-message-cost.ts
 *
 * COST_MESSAGES (200 per round and build), COST_ROUNDS (3). A build may carry environment
 * variables for the relay after a `?`: `dist/cli/main.js?UV_THREADPOOL_SIZE=16`; `LOG_LEVEL=warn` there
 * sets the relay's log level instead (what the info lines per message cost).
 */
import { spawn } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RELAY_CLI } from '../test/support/relay-process.js';
import { startMockTenant } from '../test/mock-tenant/index.js';
import { summarize } from './latency-stats.js';
import { messageOnWire } from './messages.js';
import { launchRelay, type LaunchedRelay } from './relay-launcher.js';
import { submitOnce } from './scenarios.js';
import { freePort } from '../test/support/ports.js';

const BUILDS = (process.env.COST_CLIS ?? RELAY_CLI).split(',').map((spec) => {
  const [cli = '', query = ''] = spec.split('?');
  return { spec, cli: resolve(cli), env: Object.fromEntries(new URLSearchParams(query)) };
});
const MESSAGES = Number(process.env.COST_MESSAGES ?? 200);
const ROUNDS = Number(process.env.COST_ROUNDS ?? 3);
const STRACE = process.env.COST_STRACE === '1';
/** COST_PERF=FILE: the measured messages under `perf record -g` (node --perf-basic-prof names JIT frames). */
const PERF = process.env.COST_PERF;
/** COST_HOLD=1: the relay delivers nothing (one an hour), so the figures are intake's alone. */
const HOLD = process.env.COST_HOLD === '1';
const TICKS_PER_SECOND = 100;

async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

const tenant = await startMockTenant();
let delivered = 0;
tenant.upstream.on('message', () => {
  delivered += 1;
  tenant.upstream.messages.length = 0;
});
const message = messageOnWire(10 * 1024);
const results = new Map(BUILDS.map((build) => [build.spec, { cpu: [] as number[], latency: [] as bigint[], strace: '' }]));
try {
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const build of BUILDS) {
      const dir = await mkdtemp(join(tmpdir(), 'cost-'));
      const logLevel = build.env.LOG_LEVEL as 'warn' | 'info' | undefined;
      const base = tenant.relayConfig(join(dir, 'data'), { listen: { port: 0 }, ...(logLevel === undefined ? {} : { log: { level: logLevel } }) });
      // Exchange's 30 a minute does not apply to the mock (as in bench.ts).
      const config = { ...base, accounts: base.accounts.map((account) => ({ ...account, rate: HOLD ? { messages: 1, perSeconds: 3600 } : { messages: 100_000, perSeconds: 1 } })) };
      const port = await freePort();
      await (await launchRelay({ config, dir, port, cli: build.cli })).stop();
      const straceFile = join(dir, 'strace.txt');
      const saved = { ...process.env };
      Object.assign(process.env, build.env);
      const relay: LaunchedRelay = await launchRelay({ config, dir, port, cli: build.cli, ...(PERF === undefined ? {} : { nodeArgs: ['--perf-basic-prof'] }), ...(process.env.COST_NODE_ARGS === undefined ? {} : { nodeArgs: process.env.COST_NODE_ARGS.split(' ') }) });
      process.env = saved;
      process.stderr.write(`round ${round + 1}: ${build.spec}\n`);
      for (let n = 0; n < 20; n += 1) await submitOnce(port, message);
      while (!HOLD && delivered < 20 * (1 + round * BUILDS.length + BUILDS.indexOf(build))) await new Promise((done) => setTimeout(done, 20));
      const target = delivered + MESSAGES;
      const before = await cpuMs(relay.pid);
      // Attached to every thread of the relay for the measured messages only.
      const strace = STRACE ? spawn('strace', [...(process.env.COST_STRACE_ARGS ?? '-f -c').split(' '), '-o', straceFile, '-p', String(relay.pid)], { stdio: 'ignore' }) : undefined;
      const perf = PERF === undefined ? undefined : spawn('perf', ['record', '-F', '1999', '-g', '-o', `${PERF}.${round}.${BUILDS.indexOf(build)}`, '-p', String(relay.pid)], { stdio: 'ignore' });
      if (strace !== undefined || perf !== undefined) await new Promise((done) => setTimeout(done, 1000));
      const result = results.get(build.spec)!;
      for (let n = 0; n < MESSAGES; n += 1) result.latency.push(await submitOnce(port, message));
      while (!HOLD && delivered < target) await new Promise((done) => setTimeout(done, 20));
      result.cpu.push(((await cpuMs(relay.pid)) - before) / MESSAGES);
      if (perf !== undefined) {
        const exited = new Promise((done) => perf.once('exit', done));
        perf.kill('SIGINT');
        await exited;
      }
      if (strace !== undefined) {
        const exited = new Promise((done) => strace.once('exit', done));
        strace.kill('SIGINT');
        await exited;
        result.strace += await readFile(straceFile, 'utf8');
        if (process.env.COST_STRACE_RAW !== undefined) await writeFile(process.env.COST_STRACE_RAW, result.strace);
      }
      await relay.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await tenant.close();
}
for (const [spec, result] of results) {
  const latency = summarize(result.latency);
  console.log(`${spec}\n  fresh-connection p50 ${latency.medianMs.toFixed(2)} ms p90 ${latency.p90Ms.toFixed(2)} ms; CPU ms per message ${result.cpu.map((ms) => ms.toFixed(2)).join(' ')}`);
  if (!STRACE) continue;
  const calls = new Map<string, number>();
  for (const line of result.strace.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const name = cols.at(-1) ?? '';
    if (!/^(fsync|fdatasync|rename|renameat2?|unlink|unlinkat|openat|write|writev|read|statx|newfstatat|close|futex|epoll_wait)$/.test(name)) continue;
    calls.set(name, (calls.get(name) ?? 0) + Number(cols[3]));
  }
  for (const [name, count] of calls) console.log(`  ${name.padEnd(12)} ${(count / (MESSAGES * ROUNDS)).toFixed(2)} per message`);
}
