/**
 * `npm run bench:floor`: where the floor is. The same clients as `npm run bench` (scenarios.ts)
 * against, in alternating rounds:
 *   - Postfix, as in bench.ts (delivering to a plain sink in the background);
 *   - floor/bare-node.mjs: the least a Node.js intake can do (node:net, no library, no policy,
 *     no log), with the relay's durability (file and folder fsynced before the 250);
 *   - floor/smtp-server.mjs: the library the relay receives with, and nothing of ours;
 *   - our relay with delivery held (one message an hour), so that intake alone is measured.
 * What separates "bare Node" from Postfix is the runtime; what separates smtp-server from bare
 * Node is the library; what is left is ours. Speed is the benchmark's to measure, never a test's.
 *
 * FLOOR_MESSAGES (300 per round and server), FLOOR_ROUNDS (3), FLOOR_SCENARIOS (fresh-1,fresh-8,reused-8).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestCertificates, startMockTenant, writeCaFile } from '../test/mock-tenant/index.js';
import { freePort } from '../test/support/ports.js';
import { summarize } from './latency-stats.js';
import { messageOnWire } from './messages.js';
import { postfixUnavailable, startPostfix } from './postfix.js';
import { greets, launchRelay } from './relay-launcher.js';
import { runScenario, SCENARIOS } from './scenarios.js';
import { startPlainSink } from './sink.js';

const MESSAGES = Number(process.env.FLOOR_MESSAGES ?? 300);
const ROUNDS = Number(process.env.FLOOR_ROUNDS ?? 3);
const KEYS = (process.env.FLOOR_SCENARIOS ?? 'fresh-1,fresh-8,reused-8').split(',');
const WARM_UP = 50;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const say = (text: string): void => void process.stderr.write(`${text}\n`);

interface Server {
  readonly name: string;
  readonly port: number;
  /** Resolves when everything sent so far has left (Postfix delivers in the background). */
  readonly settled: () => Promise<void>;
  readonly latenciesNs: bigint[];
  seconds: number;
  sent: number;
}

async function listening(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (await greets(port)) return;
    await sleep(50);
  }
  throw new Error(`nothing greets on ${port}`);
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];

async function startScript(name: string, script: string): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), 'floor-'));
  dirs.push(dir);
  await mkdir(join(dir, 'queue'));
  const port = await freePort();
  children.push(spawn(process.execPath, [join(HERE, 'floor', script), String(port), join(dir, 'queue')], { stdio: 'inherit' }));
  await listening(port);
  return { name, port, settled: async () => undefined, latenciesNs: [], seconds: 0, sent: 0 };
}

const tenant = await startMockTenant();
try {
  const servers: Server[] = [];
  const unavailable = postfixUnavailable();
  if (unavailable === undefined) {
    const certificates = await createTestCertificates();
    const sink = await startPlainSink(certificates);
    stops.push(() => sink.close());
    const dir = await mkdtemp(join(tmpdir(), 'postfix-floor-'));
    dirs.push(dir);
    const postfix = await startPostfix(dir, await freePort(), sink.port, 40 * 1024 * 1024, await writeCaFile(certificates, dir));
    stops.push(() => postfix.stop());
    const server: Server = {
      name: 'Postfix',
      port: postfix.port,
      latenciesNs: [],
      seconds: 0,
      sent: 0,
      settled: async () => {
        while (sink.count < server.sent) await sleep(20);
      },
    };
    servers.push(server);
  } else {
    say(`no Postfix: ${unavailable}`);
  }
  servers.push(await startScript('bare Node (node:net)', 'bare-node.mjs'));
  servers.push(await startScript('smtp-server alone', 'smtp-server.mjs'));
  const folder = await mkdtemp(join(tmpdir(), 'floor-relay-'));
  dirs.push(folder);
  const base = tenant.relayConfig(join(folder, 'data'), { listen: { port: 0 } });
  const config = { ...base, accounts: base.accounts.map((account) => ({ ...account, rate: { messages: 1, perSeconds: 3600 } })) };
  const port = await freePort();
  await (await launchRelay({ config, dir: folder, port })).stop();
  const relay = await launchRelay({ config, dir: folder, port });
  stops.push(() => relay.stop());
  servers.push({ name: 'ours, delivery held', port, settled: async () => undefined, latenciesNs: [], seconds: 0, sent: 0 });

  const message = messageOnWire(10 * 1024);
  const rows: string[] = [];
  for (const scenario of SCENARIOS.filter((s) => KEYS.includes(s.key))) {
    say(`${scenario.name}: ${ROUNDS} x ${MESSAGES} messages on each`);
    for (const server of servers) {
      server.latenciesNs.length = 0;
      server.seconds = 0;
      await runScenario(scenario, server.port, message, WARM_UP);
      server.sent += WARM_UP;
      await server.settled();
    }
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const server of servers) {
        const run = await runScenario(scenario, server.port, message, MESSAGES);
        server.sent += MESSAGES;
        server.latenciesNs.push(...run.latenciesNs);
        server.seconds += Number(run.elapsedNs) / 1e9;
        await server.settled();
      }
    }
    for (const server of servers) {
      const latency = summarize(server.latenciesNs);
      rows.push(`| ${scenario.key} | ${server.name} | ${latency.medianMs.toFixed(2)} | ${(server.latenciesNs.length / server.seconds).toFixed(0)} |`);
    }
  }
  process.stdout.write(`\n| scenario | server | p50 ms | msg/s |\n|---|---|---|---|\n${rows.join('\n')}\n`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  for (const stop of stops.reverse()) await stop();
  await tenant.close();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
