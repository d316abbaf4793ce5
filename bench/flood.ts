/**
 * The AUTH flood: six local processes (bench/auth-flood.mjs) guess passwords for FLOOD_MS
 * while one normal client submits a 10 KiB message (fresh connection, no AUTH) every
 * PROBE_EVERY_MS. Reported: how long the normal submissions took before, during and after the
 * flood, and how long after the flood's end intake was back to normal (the end of the last
 * probe slower than the threshold; 0 when none was).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize, type LatencySummary } from './latency-stats.js';
import { submitOnce } from './scenarios.js';

const FLOOD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'auth-flood.mjs');
export const FLOOD_PROCESSES = 6;
const PROBE_EVERY_MS = 100;
const BASELINE_PROBES = 20;
const AFTER_MS = 3000;
const RECOVERY_RUN = 5;

export interface FloodResult {
  readonly floodMs: number;
  readonly processes: number;
  readonly attempts: number;
  readonly connections: number;
  readonly replies: Record<string, number>;
  readonly baseline: LatencySummary;
  readonly during: LatencySummary;
  readonly after: LatencySummary;
  /** A probe slower than this counts as "not normal". */
  readonly thresholdMs: number;
  /**
   * From the flood's end until the first run of RECOVERY_RUN probes whose median is back under
   * the threshold begins (0 when the first probes after the flood already are): one slow probe
   * on a shared machine is noise, a slow stretch is not.
   */
  readonly recoveryMs: number;
}

const ms = (ns: bigint): number => Number(ns) / 1e6;

interface Probe {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly latencyNs: bigint;
}

async function probes(port: number, message: Buffer, keepGoing: (index: number) => boolean): Promise<Probe[]> {
  const done: Probe[] = [];
  for (let index = 0; keepGoing(index); index += 1) {
    const startedAt = performance.now();
    const latencyNs = await submitOnce(port, message);
    const endedAt = performance.now();
    done.push({ startedAt, endedAt, latencyNs });
    await sleep(Math.max(0, PROBE_EVERY_MS - (endedAt - startedAt)));
  }
  return done;
}

export async function authFlood(port: number, message: Buffer, floodMs: number, user: string): Promise<FloodResult> {
  const baseline = await probes(port, message, (index) => index < BASELINE_PROBES);
  const outputs: string[] = [];
  let running = FLOOD_PROCESSES;
  let floodEndedAt = Number.POSITIVE_INFINITY;
  const exited = Array.from(
    { length: FLOOD_PROCESSES },
    () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [FLOOD_SCRIPT, String(port), String(floodMs), user], { stdio: ['ignore', 'pipe', 'inherit'] });
        child.stdout.on('data', (chunk: Buffer) => outputs.push(chunk.toString('utf8')));
        child.once('error', reject);
        child.once('exit', () => {
          running -= 1;
          if (running === 0) floodEndedAt = performance.now();
          resolve();
        });
      }),
  );
  const floodStartedAt = performance.now();
  const all = await probes(port, message, () => running > 0 || performance.now() < floodEndedAt + AFTER_MS);
  await Promise.all(exited);

  const counts = outputs
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { connections: number; attempts: number; replies: Record<string, number> });
  const replies: Record<string, number> = {};
  for (const count of counts) for (const [code, n] of Object.entries(count.replies)) replies[code] = (replies[code] ?? 0) + n;

  const base = summarize(baseline.map((probe) => probe.latencyNs));
  const thresholdMs = Math.max(2 * base.p90Ms, base.medianMs + 5);
  const during = all.filter((probe) => probe.startedAt >= floodStartedAt && probe.endedAt <= floodEndedAt);
  const after = all.filter((probe) => probe.startedAt >= floodEndedAt);
  const tail = all.filter((probe) => probe.endedAt > floodEndedAt);
  const recovered = tail.findIndex((_, index) => {
    const run = tail.slice(index, index + RECOVERY_RUN).map((probe) => ms(probe.latencyNs)).sort((a, b) => a - b);
    return run.length === RECOVERY_RUN && (run[Math.floor(RECOVERY_RUN / 2)] ?? Infinity) <= thresholdMs;
  });
  const recoveredAt = recovered === -1 ? tail.at(-1)?.endedAt ?? floodEndedAt : tail[recovered]?.startedAt ?? floodEndedAt;
  return {
    floodMs,
    processes: FLOOD_PROCESSES,
    attempts: counts.reduce((sum, count) => sum + count.attempts, 0),
    connections: counts.reduce((sum, count) => sum + count.connections, 0),
    replies,
    baseline: base,
    during: summarize((during.length > 0 ? during : all).map((probe) => probe.latencyNs)),
    after: summarize((after.length > 0 ? after : all).map((probe) => probe.latencyNs)),
    thresholdMs,
    recoveryMs: Math.max(0, recoveredAt - floodEndedAt),
  };
}
