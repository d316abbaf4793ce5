/**
 * Keeps a delegated sign-in alive: a Microsoft refresh token lapses after 90 days without use,
 * but every redemption returns a new one with a new 90-day window (docs/microsoft-365.md; Microsoft:
 * https://learn.microsoft.com/entra/identity-platform/refresh-tokens). Redeeming it on a
 * schedule (default every 24 hours) slides the window, so that only revocation, a password
 * reset or Conditional Access can end the sign-in.
 *
 * A network failure keeps the tokens and tries again with backoff; a refusal that needs a
 * person ("sign-in required", already recorded and alerted by the provider) stops the
 * keep-alive until `resume()`, which the daemon calls after a new login.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { SignInState } from '../core/sign-in-state.js';
import { SignInRequiredError, type AccessToken } from '../core/token.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** Waits after the 1st, 2nd, ... failed refresh in a row; the last repeats until one succeeds. */
export const KEEP_ALIVE_RETRY_DELAYS_MS: readonly number[] = [1 * MINUTE_MS, 5 * MINUTE_MS, 15 * MINUTE_MS, 60 * MINUTE_MS];

/** What the keep-alive needs of a provider: DelegatedTokenProvider satisfies it. */
export interface KeepAliveTarget {
  readonly accountName: string;
  getToken(options: { forceRefresh: boolean }): Promise<AccessToken>;
  state(): SignInState;
}

export interface KeepAliveOptions {
  readonly target: KeepAliveTarget;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The account's auth.keepAliveHours. */
  readonly intervalHours: number;
  readonly retryDelaysMs?: readonly number[];
}

export type KeepAliveOutcome = 'refreshed' | 'retrying' | 'sign-in-required';

export type KeepAlivePhase =
  /** Not started, or stopped with the daemon. */
  | 'stopped'
  /** A refresh is due at nextRunAt (or running now). */
  | 'scheduled'
  /** A person must sign in; nothing runs until resume(). */
  | 'waiting-for-sign-in';

export class KeepAlive {
  private readonly target: KeepAliveTarget;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly retryDelaysMs: readonly number[];
  private currentPhase: KeepAlivePhase = 'stopped';
  private cancelTimer: (() => void) | undefined;
  private nextAt: number | undefined;
  private running: Promise<KeepAliveOutcome> | undefined;
  private failuresInARow = 0;

  constructor(options: KeepAliveOptions) {
    this.target = options.target;
    this.clock = options.clock;
    this.logger = options.logger.child({ account: options.target.accountName, task: 'keep-alive' });
    this.intervalMs = options.intervalHours * HOUR_MS;
    this.retryDelaysMs = options.retryDelaysMs ?? KEEP_ALIVE_RETRY_DELAYS_MS;
    if (this.retryDelaysMs.length === 0) throw new Error('KeepAlive: retryDelaysMs must not be empty');
  }

  get phase(): KeepAlivePhase {
    return this.currentPhase;
  }

  /** When the next refresh is due (ms since the epoch), if one is scheduled. */
  get nextRunAt(): number | undefined {
    return this.nextAt;
  }

  /** Schedules the next refresh one interval after the last; at once when that is already past. */
  start(): void {
    if (this.currentPhase !== 'stopped') return;
    const state = this.target.state();
    if (state.status !== 'ok') {
      this.currentPhase = 'waiting-for-sign-in';
      return;
    }
    this.currentPhase = 'scheduled';
    const last = parseTime(state.refreshTokenIssuedAt) ?? parseTime(state.lastRefreshAt);
    const due = last === undefined ? this.clock.now() : last + this.intervalMs;
    if (due <= this.clock.now()) void this.runNow();
    else this.schedule(due - this.clock.now());
  }

  stop(): void {
    this.currentPhase = 'stopped';
    this.unschedule();
  }

  /** After a new login: the sign-in is fresh, so the next refresh is one interval away. */
  resume(): void {
    if (this.currentPhase === 'stopped') return;
    this.currentPhase = 'scheduled';
    this.failuresInARow = 0;
    this.schedule(this.intervalMs);
  }

  /** Refreshes now (joining a refresh already running) and schedules the next one. */
  runNow(): Promise<KeepAliveOutcome> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves when no refresh is running (for tests and an orderly stop). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<KeepAliveOutcome> {
    this.unschedule();
    try {
      // forceRefresh makes MSAL redeem the refresh token, which Entra answers with a new one.
      await this.target.getToken({ forceRefresh: true });
    } catch (error) {
      if (error instanceof SignInRequiredError) {
        // The provider recorded it and told the daemon; trying again would be in vain.
        if (this.currentPhase !== 'stopped') this.currentPhase = 'waiting-for-sign-in';
        this.logger.warn('keep-alive paused until a new sign-in');
        return 'sign-in-required';
      }
      const delay = this.retryDelaysMs[Math.min(this.failuresInARow, this.retryDelaysMs.length - 1)] ?? HOUR_MS;
      this.failuresInARow += 1;
      this.logger.warn({ err: error instanceof Error ? error.message : String(error), retryInMs: delay }, 'keep-alive refresh failed; tokens kept, will retry');
      if (this.currentPhase !== 'stopped') this.schedule(delay);
      return 'retrying';
    }
    this.failuresInARow = 0;
    this.logger.debug({ refreshTokenExpiresAt: this.target.state().refreshTokenExpiresAt }, 'keep-alive refresh done');
    if (this.currentPhase !== 'stopped') {
      this.currentPhase = 'scheduled';
      this.schedule(this.intervalMs);
    }
    return 'refreshed';
  }

  private schedule(delayMs: number): void {
    this.unschedule();
    this.nextAt = this.clock.now() + delayMs;
    this.cancelTimer = this.clock.setTimer(delayMs, () => {
      this.cancelTimer = undefined;
      void this.runNow();
    });
  }

  private unschedule(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.nextAt = undefined;
  }
}

function parseTime(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}
