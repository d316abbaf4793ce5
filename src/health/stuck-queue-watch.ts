/**
 * "Queue stuck" for the OS log: a message deferred (at least one failed attempt) for more than an
 * hour is the status command's CRITICAL rule (status-report.ts, STALE_DEFERRED_MS). Checked every
 * minute, but raised once per message and hour of waiting, not at every check.
 */
import type { Clock } from '../core/clock.js';
import { STALE_DEFERRED_MS } from './status-report.js';

export const STUCK_CHECK_INTERVAL_MS = 60_000;

/** The fields of a queue record the watch reads (QueueRecord satisfies it). */
export interface WatchedRecord {
  readonly id: string;
  readonly account: string;
  readonly receivedAt: string;
  readonly attempts: number;
  readonly lastReply?: { readonly text: string } | undefined;
}

export interface StuckQueueWatchOptions {
  readonly clock: Clock;
  /** The records now in the queue (e.g. listQueue(dataDir, 'queue')). */
  readonly list: () => Promise<readonly WatchedRecord[]>;
  readonly raise: (level: 'warn' | 'error', text: string) => void;
  readonly intervalMs?: number;
}

export class StuckQueueWatch {
  /** Message id -> the hour of waiting already raised (1 = past the first hour). */
  private readonly raisedHour = new Map<string, number>();
  private cancelTimer: (() => void) | undefined;
  private running = false;

  constructor(private readonly options: StuckQueueWatchOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  /** One check; resolves with the ids raised this time. */
  async check(): Promise<string[]> {
    const now = this.options.clock.now();
    const records = await this.options.list();
    const present = new Set(records.map((record) => record.id));
    for (const id of this.raisedHour.keys()) if (!present.has(id)) this.raisedHour.delete(id);

    const raised: string[] = [];
    for (const record of records) {
      if (record.attempts === 0) continue;
      const waited = now - Date.parse(record.receivedAt);
      if (!(waited > STALE_DEFERRED_MS)) continue;
      const hour = Math.floor(waited / STALE_DEFERRED_MS);
      if ((this.raisedHour.get(record.id) ?? 0) >= hour) continue;
      this.raisedHour.set(record.id, hour);
      raised.push(record.id);
      const last = record.lastReply === undefined ? '' : `; last reply: ${record.lastReply.text}`;
      this.options.raise(
        'error',
        `${record.account}: message ${record.id} has waited ${hour} hour${hour === 1 ? '' : 's'} after ${record.attempts} failed attempt${record.attempts === 1 ? '' : 's'}${last}. Next step: smtp-oauth-relay queue list; smtp-oauth-relay doctor`,
      );
    }
    return raised;
  }

  private schedule(): void {
    this.cancelTimer = this.options.clock.setTimer(this.options.intervalMs ?? STUCK_CHECK_INTERVAL_MS, () => {
      if (!this.running) return;
      void this.check()
        .catch(() => undefined)
        .finally(() => {
          if (this.running) this.schedule();
        });
    });
  }
}
