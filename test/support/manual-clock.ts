/**
 * A clock that moves only when a test says so: retry schedules, rate limits and token
 * expiry are tested by advancing it, never by waiting.
 */
import type { Clock } from '../../src/core/clock.js';

interface Timer {
  readonly due: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class ManualClock implements Clock {
  private current: number;
  private readonly timers: Timer[] = [];

  constructor(start = Date.UTC(2026, 10, 22, 9, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(ms: number, callback: () => void): () => void {
    const timer: Timer = { due: this.current + Math.max(0, ms), callback, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Number of timers still waiting. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; lets promises settle between
   * timers so that work a timer starts can schedule the next one.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await settle();
      const next = this.timers
        .filter((t) => !t.cancelled && t.due <= target)
        .sort((a, b) => a.due - b.due)[0];
      if (next === undefined) break;
      this.current = Math.max(this.current, next.due);
      next.cancelled = true;
      this.timers.splice(this.timers.indexOf(next), 1);
      next.callback();
    }
    this.current = target;
    await settle();
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
