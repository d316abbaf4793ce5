/** The benchmark's readable table and its JSON summary. */
import { cpus } from 'node:os';
import type { LatencySummary } from './latency-stats.js';

/** Targets from the issue. */
export const TARGETS = {
  perMessageMedianMs: 5,
  largeMessagePeakMb: 150,
} as const;

export interface ScenarioResult {
  readonly name: string;
  readonly messages: number;
  readonly messagesPerSecond: number;
  readonly latency: LatencySummary;
  /** From the first MAIL FROM of the run until Exchange (the mock) accepted its last message. */
  readonly deliverySeconds: number;
  /** How long after the last 250 the queue was empty. */
  readonly drainAfterAcceptMs: number;
  readonly target?: { readonly medianMs: number; readonly met: boolean };
}

export interface MemoryResult {
  readonly messageBytes: number;
  readonly rssBeforeMb: number;
  readonly peakBeforeMb: number;
  readonly rssAfterMb: number;
  readonly peakMb: number;
  readonly targetMb: number;
  readonly met: boolean;
}

export interface DeliveryResult {
  readonly messages: number;
  /** From spawning the relay (start-up, spool recovery, first token) to the last message upstream. */
  readonly secondsFromStart: number;
  /** From the first to the last message the mock Exchange accepted. */
  readonly secondsFromFirst: number;
  /** (messages - 1) / secondsFromFirst. */
  readonly messagesPerSecond: number;
  readonly upstreamConnections: number;
}

export interface BenchSummary {
  readonly node: string;
  readonly cpu: string;
  readonly cores: number;
  readonly messageBytes: number;
  readonly warmUp: number;
  readonly scenarios: readonly ScenarioResult[];
  readonly delivery: DeliveryResult;
  readonly memory?: MemoryResult;
}

export function machine(): { node: string; cpu: string; cores: number } {
  const all = cpus();
  return { node: process.version, cpu: all[0]?.model ?? 'unknown', cores: all.length };
}

const ms = (value: number): string => value.toFixed(2).padStart(8);
const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');

export function formatTable(summary: BenchSummary): string {
  const rows = [
    `smtp-oauth-relay benchmark: node ${summary.node}, ${summary.cpu}, ${summary.cores} cores`,
    `${summary.messageBytes}-byte messages, ${summary.warmUp} warm-up messages per scenario; latency in ms`,
    '',
    `${'scenario'.padEnd(40)} ${'msgs'.padStart(6)} ${'msg/s'.padStart(8)} ${'median'.padStart(8)} ${'p90'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}  target`,
  ];
  for (const s of summary.scenarios) {
    const target = s.target === undefined ? '' : `median < ${s.target.medianMs} ms: ${met(s.target.met)}`;
    rows.push(
      `${s.name.padEnd(40)} ${String(s.messages).padStart(6)} ${s.messagesPerSecond.toFixed(0).padStart(8)} ${ms(s.latency.medianMs)} ${ms(s.latency.p90Ms)} ${ms(s.latency.p99Ms)} ${ms(s.latency.maxMs)}  ${target}`,
    );
  }
  rows.push('', 'delivery while accepting (in the background), per scenario: first MAIL FROM -> last message accepted upstream');
  for (const s of summary.scenarios) {
    rows.push(`  ${s.name.padEnd(40)} ${s.deliverySeconds.toFixed(2).padStart(7)} s  (${(s.messages / s.deliverySeconds).toFixed(0)} msg/s), queue empty ${s.drainAfterAcceptMs.toFixed(0)} ms after the last 250`);
  }
  const d = summary.delivery;
  rows.push(
    '',
    `delivery throughput (a restarted relay drains a queue of ${d.messages}, no client running): ${d.messagesPerSecond.toFixed(0)} msg/s`,
    `  first to last message upstream ${d.secondsFromFirst.toFixed(2)} s; ${d.secondsFromStart.toFixed(2)} s from spawning the relay; ${d.upstreamConnections} upstream connections (at most 3 at a time)`,
  );
  const m = summary.memory;
  if (m !== undefined) {
    rows.push(
      '',
      `relay memory, one ${(m.messageBytes / 1024 / 1024).toFixed(1)} MiB message accepted and delivered (fresh relay process):`,
      `  RSS before ${m.rssBeforeMb.toFixed(1)} MB (peak so far ${m.peakBeforeMb.toFixed(1)} MB); peak RSS (VmHWM) ${m.peakMb.toFixed(1)} MB; RSS after ${m.rssAfterMb.toFixed(1)} MB   target peak < ${m.targetMb} MB: ${met(m.met)}`,
    );
  }
  return rows.join('\n');
}
