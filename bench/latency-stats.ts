/** Latency percentiles (nearest rank) from samples in nanoseconds, reported in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function summarize(samplesNs: readonly bigint[]): LatencySummary {
  if (samplesNs.length === 0) throw new Error('no latency samples');
  const sorted = samplesNs.map((ns) => Number(ns) / 1e6).sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
  return { count: sorted.length, medianMs: rank(0.5), p90Ms: rank(0.9), p99Ms: rank(0.99), maxMs: sorted.at(-1) ?? Number.NaN };
}
