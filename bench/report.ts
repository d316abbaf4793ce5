/** The benchmark's table (ours beside Postfix, as ratios) and its JSON summary. */
import { readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import type { CpuFigures } from './cpu-usage.js';
import type { FloodResult } from './flood.js';
import type { LatencySummary } from './latency-stats.js';
import { PHASES, type Phase } from './scenarios.js';

/** Targets from issue 12. */
export const TARGETS = {
  /** Our AUTH fresh-connection median over our no-AUTH one. */
  authOverPlain: 1.3,
  largeMessagePeakMb: 100,
  idleRssMb: 70,
  floodProbeMaxMs: 100,
  floodRecoveryMs: 1000,
} as const;

export interface Figures {
  readonly messages: number;
  readonly messagesPerSecond: number;
  readonly latency: LatencySummary;
  /** Median of each phase (per-connection scenarios only), ms. */
  readonly phasesMs?: Record<Phase, number>;
  /** CPU per accepted message of the relay and of the bench process, and cores busy (cpu-usage.ts). */
  readonly cpu?: CpuFigures;
}

export interface ScenarioResult {
  readonly key: string;
  readonly name: string;
  readonly auth: boolean;
  readonly ours: Figures;
  /** For an AUTH scenario: Postfix's figures without AUTH (it has no SASL here). */
  readonly postfix?: Figures;
}

/** The first messages after a relay's start (bench.ts, step 2), before the scenarios. */
export interface ColdStart {
  readonly scenario: string;
  readonly ours: Figures;
  readonly postfix?: Figures;
}

export interface LargeResult {
  readonly messageBytes: number;
  /** From the first byte of the message to the 250. */
  readonly acceptMs: number;
  /** Ours: the relay process's VmHWM over its life (accept and delivery). Postfix: its largest process. */
  readonly peakMb: number;
  /** Postfix only: the peaks of all its processes added up. */
  readonly peakSumMb?: number;
}

export interface MemoryFigures {
  /** After start, before any message. */
  readonly idleRssMb: number;
  /** Ours: idle again after the submission scenarios (everything a delivery needs is loaded). */
  readonly afterWorkRssMb?: number;
  /** Postfix: how many processes the idle figure adds up. */
  readonly processes?: number;
}

export interface BenchSummary {
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  /** The file system both relays spool on (the bench's temporary folder), with its mount options. */
  readonly spoolFileSystem: string;
  readonly messageBytes: number;
  readonly rounds: number;
  readonly postfix: { readonly version?: string; readonly unavailable?: string };
  /** Absent when the scenarios ran on a cold relay (BENCH_START_WARMUP=0). */
  readonly coldStart?: ColdStart;
  readonly scenarios: readonly ScenarioResult[];
  readonly idle: { readonly ours: MemoryFigures; readonly postfix?: MemoryFigures };
  /** Our peak RSS after all submission scenarios (the 8 AUTH clients included). */
  readonly oursPeakAfterScenariosMb: number;
  readonly large?: { readonly ours: LargeResult; readonly postfix?: LargeResult };
  readonly flood?: { readonly ours: FloodResult & { readonly peakRssMb: number }; readonly postfix?: FloodResult };
  readonly targets: readonly { readonly what: string; readonly met: boolean }[];
}

export function machine(): { node: string; cpu: string; cores: number; spoolFileSystem: string } {
  const all = cpus();
  return { node: process.version, cpu: all[0]?.model ?? 'unknown', cores: all.length, spoolFileSystem: fileSystemOf(tmpdir()) };
}

/**
 * The type and mount options of the file system holding `folder`, from /proc/self/mounts
 * (Linux; "unknown" elsewhere). Online `discard` makes every deletion expensive for the file
 * creations that follow (docs/performance.md, "Where the time goes now (fifth sitting)").
 */
function fileSystemOf(folder: string): string {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return 'unknown';
  }
  const under = (point: string): boolean => folder === point || folder.startsWith(point.endsWith('/') ? point : `${point}/`);
  const holding = mounts
    .split('\n')
    .map((line) => line.split(' ').map(unescapeMountField))
    .filter((fields) => fields.length >= 4 && under(fields[1] ?? ''))
    .sort((a, b) => (b[1]?.length ?? 0) - (a[1]?.length ?? 0))[0];
  return holding === undefined ? 'unknown' : `${holding[2] ?? '?'} (${holding[3] ?? ''}) at ${holding[1] ?? '?'}`;
}

/** /proc/self/mounts writes a space, tab, newline or backslash in a field as \040, \011, \012, \134 (getmntent(3)). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

const num = (value: number | undefined, digits = 2, width = 8): string => (value === undefined ? '-' : value.toFixed(digits)).padStart(width);
const ratio = (ours: number | undefined, theirs: number | undefined): string =>
  (ours === undefined || theirs === undefined || theirs === 0 ? '-' : `${(ours / theirs).toFixed(2)}x`).padStart(7);

export function targetsOf(summary: Omit<BenchSummary, 'targets'>): { what: string; met: boolean }[] {
  const byKey = new Map(summary.scenarios.map((scenario) => [scenario.key, scenario]));
  const targets: { what: string; met: boolean }[] = [];
  const plain = byKey.get('fresh-1');
  const auth = byKey.get('fresh-auth-1');
  if (plain !== undefined && auth !== undefined) {
    const r = auth.ours.latency.medianMs / plain.ours.latency.medianMs;
    targets.push({ what: `AUTH fresh-connection median within ${TARGETS.authOverPlain}x of our no-AUTH one (${r.toFixed(2)}x)`, met: r <= TARGETS.authOverPlain });
  }
  if (plain?.postfix !== undefined) {
    targets.push({
      what: `no-AUTH fresh-connection median at or below Postfix's (${plain.ours.latency.medianMs.toFixed(2)} vs ${plain.postfix.latency.medianMs.toFixed(2)} ms)`,
      met: plain.ours.latency.medianMs <= plain.postfix.latency.medianMs,
    });
  }
  const eight = byKey.get('fresh-8');
  if (eight?.postfix !== undefined) {
    targets.push({
      what: `8 clients at or above Postfix's msg/s (${eight.ours.messagesPerSecond.toFixed(0)} vs ${eight.postfix.messagesPerSecond.toFixed(0)})`,
      met: eight.ours.messagesPerSecond >= eight.postfix.messagesPerSecond,
    });
  }
  if (summary.large !== undefined) {
    const peak = summary.large.ours.peakMb;
    targets.push({ what: `30 MiB message: peak RSS < ${TARGETS.largeMessagePeakMb} MiB (${peak.toFixed(1)})`, met: peak < TARGETS.largeMessagePeakMb });
  }
  targets.push({ what: `idle RSS < ${TARGETS.idleRssMb} MiB (${summary.idle.ours.idleRssMb.toFixed(1)})`, met: summary.idle.ours.idleRssMb < TARGETS.idleRssMb });
  if (summary.flood !== undefined) {
    const { during, recoveryMs } = summary.flood.ours;
    targets.push({ what: `AUTH flood: every normal submission's 250 within ${TARGETS.floodProbeMaxMs} ms (max ${during.maxMs.toFixed(1)})`, met: during.maxMs <= TARGETS.floodProbeMaxMs });
    targets.push({ what: `AUTH flood: intake normal within ${TARGETS.floodRecoveryMs} ms after it (${recoveryMs.toFixed(0)} ms)`, met: recoveryMs <= TARGETS.floodRecoveryMs });
  }
  return targets;
}

/**
 * CPU per message (cpu-usage.ts): what bounds the throughput on this machine, and what the load
 * generator took of it. Keyed by scenario key to stay narrow; a relay's "sending" is the part of its
 * figure spent while the clients were still sending (the rest is delivery after the round).
 */
function cpuTable(summary: BenchSummary, pf: string | undefined): string[] {
  const measured = summary.scenarios.filter((s) => s.ours.cpu !== undefined);
  if (measured.length === 0) return [];
  const rows = [
    '',
    `CPU ms per accepted message (user + system) from a round's start until its messages were delivered; sending: the part while the clients sent`,
    `bench = this process (clients, mock tenant, Postfix's sink); cores busy = CPU while the clients sent / wall time (${summary.cores} cores here)`,
    `${'scenario'.padEnd(14)} ${'ours'.padStart(7)} ${'sending'.padStart(7)} ${'Postfix'.padStart(7)} ${'sending'.padStart(7)} ${'ratio'.padStart(7)} | ${'bench'.padStart(7)} ${'bench pf'.padStart(8)} | ${'cores: ours'.padStart(11)} ${'bench'.padStart(6)} ${'Postfix'.padStart(7)} ${'bench'.padStart(6)}`,
  ];
  for (const s of measured) {
    const o = s.ours.cpu;
    const p = s.postfix?.cpu;
    rows.push(
      `${(s.key + (s.auth && p !== undefined ? ' *' : '')).padEnd(14)} ${num(o?.relayMsPerMessage, 2, 7)} ${num(o?.relayWhileSendingMsPerMessage, 2, 7)} ${num(p?.relayMsPerMessage, 2, 7)} ${num(p?.relayWhileSendingMsPerMessage, 2, 7)} ${ratio(o?.relayMsPerMessage, p?.relayMsPerMessage)} | ${num(o?.benchMsPerMessage, 2, 7)} ${num(p?.benchMsPerMessage)} | ${num(o?.relayCores, 2, 11)} ${num(o?.benchCores, 2, 6)} ${num(p?.relayCores, 2, 7)} ${num(p?.benchCores, 2, 6)}`,
    );
  }
  if (pf !== undefined) {
    rows.push(`  bench: in our rounds (clients + mock Exchange); bench pf: in ${pf}'s rounds (clients + sink); ratio = ours / Postfix, above 1x: ours costs more`);
  }
  return rows;
}

export function formatTable(summary: BenchSummary): string {
  const pf = summary.postfix.unavailable === undefined ? `Postfix ${summary.postfix.version ?? ''}`.trim() : undefined;
  const rows = [
    `smtp-oauth-relay benchmark: node ${summary.node}, ${summary.cpu}, ${summary.cores} cores`,
    `spool file system (both relays): ${summary.spoolFileSystem}`,
    `${summary.messageBytes}-byte messages; ours and ${pf ?? 'no reference'} measured in alternating rounds (${summary.rounds}) in one sitting; latency in ms`,
    pf === undefined ? `No Postfix comparison: ${summary.postfix.unavailable ?? ''}. Our figures alone.` : `ratio = ours / ${pf} (below 1x: ours is faster for latency; above 1x: ours does more msg/s)`,
    '',
    `${'scenario'.padEnd(40)} ${'ours p50'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)} ${'msg/s'.padStart(8)} | ${'pf p50'.padStart(8)} ${'msg/s'.padStart(8)} | ${'p50'.padStart(7)} ${'msg/s'.padStart(7)}`,
  ];
  for (const s of summary.scenarios) {
    const o = s.ours;
    const p = s.postfix;
    rows.push(
      `${(s.name + (s.auth && p !== undefined ? ' *' : '')).padEnd(40)} ${num(o.latency.medianMs)} ${num(o.latency.p90Ms)} ${num(o.latency.p99Ms)} ${num(o.messagesPerSecond, 0)} | ${num(p?.latency.medianMs)} ${num(p?.messagesPerSecond, 0)} | ${ratio(o.latency.medianMs, p?.latency.medianMs)} ${ratio(o.messagesPerSecond, p?.messagesPerSecond)}`,
    );
  }
  if (pf !== undefined) rows.push('  * Postfix has no SASL here: its figures are those of the same scenario without AUTH.');
  const cold = summary.coldStart;
  if (cold !== undefined) {
    const o = cold.ours;
    const p = cold.postfix;
    rows.push(
      `  the scenarios above ran after a warm-up of ${o.messages} messages per relay; those first messages after start (${cold.scenario}):`,
      `${'  cold start'.padEnd(40)} ${num(o.latency.medianMs)} ${num(o.latency.p90Ms)} ${num(o.latency.p99Ms)} ${num(o.messagesPerSecond, 0)} | ${num(p?.latency.medianMs)} ${num(p?.messagesPerSecond, 0)} | ${ratio(o.latency.medianMs, p?.latency.medianMs)} ${ratio(o.messagesPerSecond, p?.messagesPerSecond)}`,
    );
  }

  rows.push(...cpuTable(summary, pf));

  const fresh = summary.scenarios.find((s) => s.key === 'fresh-1');
  const freshAuth = summary.scenarios.find((s) => s.key === 'fresh-auth-1');
  if (fresh?.ours.phasesMs !== undefined) {
    rows.push('', `where a fresh-connection submission's time goes (median per phase, 1 client, ms)`);
    rows.push(`  ${'phase'.padEnd(10)} ${'ours'.padStart(8)} ${'ours AUTH'.padStart(10)} ${'Postfix'.padStart(8)} ${'ratio'.padStart(7)}`);
    for (const phase of PHASES) {
      const ours = fresh.ours.phasesMs[phase];
      const withAuth = freshAuth?.ours.phasesMs?.[phase];
      const theirs = fresh.postfix?.phasesMs?.[phase];
      rows.push(`  ${phase.padEnd(10)} ${num(ours, 3)} ${num(withAuth, 3, 10)} ${num(theirs, 3)} ${phase === 'auth' ? ''.padStart(7) : ratio(ours, theirs)}`);
    }
  }

  const { idle } = summary;
  rows.push(
    '',
    `idle RSS after start: ours ${idle.ours.idleRssMb.toFixed(1)} MiB` +
      (idle.postfix === undefined ? '' : `; Postfix ${idle.postfix.idleRssMb.toFixed(1)} MiB over ${idle.postfix.processes ?? '?'} processes (${ratio(idle.ours.idleRssMb, idle.postfix.idleRssMb).trim()})`),
    `our idle RSS after the submission scenarios: ${idle.ours.afterWorkRssMb?.toFixed(1) ?? '-'} MiB; our peak RSS over them (8 AUTH clients included): ${summary.oursPeakAfterScenariosMb.toFixed(1)} MiB`,
  );
  const large = summary.large;
  if (large !== undefined) {
    const p = large.postfix;
    rows.push(
      '',
      `one ${(large.ours.messageBytes / 1024 / 1024).toFixed(1)} MiB message: first byte -> 250 ours ${large.ours.acceptMs.toFixed(0)} ms` +
        (p === undefined ? '' : `, Postfix ${p.acceptMs.toFixed(0)} ms (${ratio(large.ours.acceptMs, p.acceptMs).trim()})`),
      `  peak RSS: ours ${large.ours.peakMb.toFixed(1)} MiB (whole relay, accept + delivery)` +
        (p === undefined ? '' : `; Postfix largest process ${p.peakMb.toFixed(1)} MiB, all processes ${p.peakSumMb?.toFixed(1) ?? '?'} MiB (${ratio(large.ours.peakMb, p.peakSumMb).trim()} of the sum)`),
    );
  }
  const flood = summary.flood;
  if (flood !== undefined) {
    const line = (who: string, f: FloodResult): string =>
      `  ${who.padEnd(8)} before p50 ${num(f.baseline.medianMs, 1, 6)} | during p50 ${num(f.during.medianMs, 1, 6)} (+${(f.during.medianMs - f.baseline.medianMs).toFixed(1)}) p90 ${num(f.during.p90Ms, 1, 6)} p99 ${num(f.during.p99Ms, 1, 6)} max ${num(f.during.maxMs, 1, 6)} | after p50 ${num(f.after.medianMs, 1, 6)} | back to normal ${f.recoveryMs.toFixed(0)} ms after | ${f.attempts} AUTH attempts, ${f.connections} connections, replies ${JSON.stringify(f.replies)}`;
    rows.push('', `AUTH flood: ${flood.ours.processes} processes for ${(flood.ours.floodMs / 1000).toFixed(0)} s; a normal 10 KiB submission (fresh connection, no AUTH) every 100 ms, connect -> 250 in ms`);
    rows.push(line('ours', flood.ours));
    if (flood.postfix !== undefined) rows.push(line('Postfix', flood.postfix));
    rows.push(`  our peak RSS during the flood: ${flood.ours.peakRssMb.toFixed(1)} MiB`);
  }
  rows.push('', 'targets (issue 12):');
  for (const target of summary.targets) rows.push(`  ${target.met ? 'met   ' : 'MISSED'} ${target.what}`);
  return rows.join('\n');
}
