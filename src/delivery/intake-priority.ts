/**
 * Intake first. While clients are handing over messages, delivery starts no new sends: intake
 * and delivery share one event loop, and a legacy program such as Sage waits for each 250
 * before it sends the next document, while a queued message waits for Exchange anyway (30 a
 * minute per mailbox, pacing.ts). Postfix gets the same effect from its separate processes.
 * docs/performance.md, "Intake first", has the measurements.
 *
 * The hold is bounded: delivery waits until intake has been quiet for `quietMs`, but never
 * longer than `longestHoldMs` from the moment it was first held back; a client that never
 * stops sending does not starve delivery, which then runs beside intake until intake is quiet.
 * Sends already under way go on; only the start of new ones waits.
 */
export interface IntakePriorityLimits {
  /** Intake counts as busy for this long after each accepted message. */
  readonly quietMs: number;
  /** The longest delivery waits for intake to be quiet, per busy spell. */
  readonly longestHoldMs: number;
}

export class IntakePriority {
  private lastAcceptedAt = Number.NEGATIVE_INFINITY;
  /** When delivery was first held back in the current busy spell; undefined while intake is quiet. */
  private holdingSince: number | undefined;

  constructor(private readonly limits: IntakePriorityLimits) {}

  /** A client's message was accepted (its 250 is on the way). */
  accepted(now: number): void {
    this.lastAcceptedAt = now;
  }

  /** When delivery should look again, or undefined when it may start sends now. */
  holdUntil(now: number): number | undefined {
    const quietAt = this.lastAcceptedAt + this.limits.quietMs;
    if (now >= quietAt) {
      this.holdingSince = undefined;
      return undefined;
    }
    this.holdingSince ??= now;
    const holdEnds = this.holdingSince + this.limits.longestHoldMs;
    if (now >= holdEnds) return undefined;
    return Math.min(quietAt, holdEnds);
  }
}
