/**
 * Slows down password guessing on local AUTH, per client address: after FREE_FAILURES
 * failures every further AUTH reply waits 1 s, 2 s, 4 s ... (capped at MAX_DELAY_MS), and
 * at CLOSE_AFTER_FAILURES failures within WINDOW_MS the connection is closed with 421 4.7.0
 * (RFC 3463 4.7.0: security or policy status). RFC 4954 section 9 asks servers to defend
 * against guessing; the numbers follow common practice (Postfix anvil, fail2ban defaults).
 *
 * The waits are timers on the injected Clock: a slowed client never blocks another one,
 * and tests move a ManualClock instead of waiting.
 */
import type { Clock } from '../core/clock.js';
import { normalizeClientAddress } from './client-policy.js';

export const FREE_FAILURES = 3;
export const CLOSE_AFTER_FAILURES = 10;
export const WINDOW_MS = 15 * 60 * 1000;
export const FIRST_DELAY_MS = 1000;
export const MAX_DELAY_MS = 10_000;

export class AuthThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly clock: Clock) {}

  /** Failures of `address` within the window. */
  failureCount(address: string): number {
    return this.recent(normalizeClientAddress(address)).length;
  }

  /** How long the reply to the next AUTH from `address` waits. */
  delayMs(address: string): number {
    const extra = this.failureCount(address) - FREE_FAILURES;
    if (extra < 0) return 0;
    return Math.min(FIRST_DELAY_MS * 2 ** extra, MAX_DELAY_MS);
  }

  /** Records a failure; true when the client has now failed often enough to be cut off. */
  recordFailure(address: string): boolean {
    const key = normalizeClientAddress(address);
    const times = [...this.recent(key), this.clock.now()];
    this.failures.set(key, times);
    return times.length >= CLOSE_AFTER_FAILURES;
  }

  recordSuccess(address: string): void {
    this.failures.delete(normalizeClientAddress(address));
  }

  /** Runs `reply` after the delay owed by `address` (at once when none). */
  later(delayMs: number, reply: () => void): void {
    if (delayMs <= 0) return reply();
    this.clock.setTimer(delayMs, reply);
  }

  private recent(key: string): number[] {
    const since = this.clock.now() - WINDOW_MS;
    const times = (this.failures.get(key) ?? []).filter((time) => time > since);
    if (times.length === 0) this.failures.delete(key);
    else this.failures.set(key, times);
    return times;
  }
}
