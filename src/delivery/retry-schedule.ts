/**
 * When to try a deferred message again, and when to give up: the delays are data
 * (config.delivery.retryDelaysSeconds, the last value repeating), as in Haraka's and ZoneMTA's
 * outbound queues, and a message older than maxQueueLifetimeHours (5 days by default, the
 * "give-up time" of RFC 5321 4.5.4.1) fails with 4.4.7 and a DSN.
 */
import type { Config } from '../core/config.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { IntakePriorityLimits } from './intake-priority.js';

const SECOND = 1000;
const HOUR = 3600 * SECOND;

export class RetrySchedule {
  private readonly delaysMs: readonly number[];
  private readonly lifetimeMs: number;

  constructor(delivery: Pick<Config['delivery'], 'retryDelaysSeconds' | 'maxQueueLifetimeHours'>) {
    this.delaysMs = delivery.retryDelaysSeconds.map((seconds) => seconds * SECOND);
    this.lifetimeMs = delivery.maxQueueLifetimeHours * HOUR;
  }

  /** Wait after the `failedAttempts`-th failed attempt (1-based); the last delay repeats. */
  delayAfter(failedAttempts: number): number {
    const index = Math.min(Math.max(failedAttempts, 1), this.delaysMs.length) - 1;
    return this.delaysMs[index] ?? this.delaysMs[this.delaysMs.length - 1] ?? 0;
  }

  /** When to try again; `record.attempts` already counts the attempt that just failed. */
  nextAttempt(record: Pick<QueueRecord, 'attempts'>, now: number): number {
    return now + this.delayAfter(record.attempts);
  }

  expiresAt(record: Pick<QueueRecord, 'receivedAt' | 'lifetimeStartsAt'>): number {
    return Date.parse(record.lifetimeStartsAt ?? record.receivedAt) + this.lifetimeMs;
  }

  isExpired(record: Pick<QueueRecord, 'receivedAt' | 'lifetimeStartsAt'>, now: number): boolean {
    return now >= this.expiresAt(record);
  }
}

/** Every pause and probe interval of the account state machine (account-states.ts), as data. */
export interface PauseIntervals {
  /** Pause after Exchange throttles, growing while throttling continues (the last value repeats). */
  readonly throttleBackoffSeconds: readonly number[];
  /** A held account tries one message this often. */
  readonly holdRetrySeconds: number;
  /** While the identity provider is out of reach. */
  readonly identityRetrySeconds: number;
  /** While Microsoft 365 is out of reach, or STARTTLS fails. */
  readonly upstreamRetrySeconds: number;
  /** STARTTLS/TLS failures in a row before the account is held. */
  readonly tlsFailuresBeforeHold: number;
  /** A delivery step that could not be written to disk is tried again after this long. */
  readonly localErrorRetrySeconds: number;
}

export function pauseIntervals(delivery: Config['delivery']): PauseIntervals {
  return {
    throttleBackoffSeconds: delivery.throttleBackoffSeconds,
    holdRetrySeconds: delivery.holdRetrySeconds,
    identityRetrySeconds: delivery.identityRetrySeconds,
    upstreamRetrySeconds: delivery.upstreamRetrySeconds,
    tlsFailuresBeforeHold: delivery.tlsFailuresBeforeHold,
    // The first step of the retry schedule: a disk hiccup is retried like a first failure.
    localErrorRetrySeconds: delivery.retryDelaysSeconds[0] ?? delivery.upstreamRetrySeconds,
  };
}

/**
 * How long delivery yields to intake (intake-priority.ts): until 50 ms pass without an accepted
 * message, and 2 s at most. While a batch comes in, its messages are accepted milliseconds
 * apart; 2 s is little to a message that Exchange takes at 30 a minute, and bounds its wait.
 */
export const INTAKE_PRIORITY: IntakePriorityLimits = { quietMs: 50, longestHoldMs: 2000 };
