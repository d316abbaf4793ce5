/**
 * "At most N submissions in any window of S seconds", as a sliding log of send times.
 * Exchange Online allows 30 messages a minute per mailbox (M365.md, "limits"); a fixed
 * per-minute bucket would let 60 through across a minute boundary, a sliding window never does.
 */
export class SlidingWindowRateLimiter {
  private readonly sentAt: number[] = [];

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** 0 when a submission may start now, else how long until the oldest one leaves the window. */
  msUntilNextSlot(now: number): number {
    this.forgetBefore(now - this.windowMs);
    if (this.sentAt.length < this.limit) return 0;
    const oldest = this.sentAt[this.sentAt.length - this.limit] ?? now;
    return Math.max(0, oldest + this.windowMs - now);
  }

  record(now: number): void {
    this.sentAt.push(now);
    this.forgetBefore(now - this.windowMs);
  }

  private forgetBefore(cutoff: number): void {
    // A send at exactly `now - window` has left the window: the window is (now - S, now].
    while (this.sentAt.length > 0 && (this.sentAt[0] ?? Infinity) <= cutoff) this.sentAt.shift();
  }
}
