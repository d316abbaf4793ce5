/**
 * Outlook's per-mailbox upload budget: at most 150 MB uploaded (POST, PUT, PATCH) in any 5 minutes
 * per app and mailbox (https://learn.microsoft.com/graph/throttling-limits, "Outlook service
 * limits"). The relay keeps count of what it sent and starts a message only when it fits, so Graph
 * never has to refuse a half-uploaded draft with 429.
 */

export const UPLOAD_BUDGET_BYTES = 150 * 1024 * 1024;
export const UPLOAD_BUDGET_WINDOW_MS = 5 * 60_000;

export class UploadBudget {
  private readonly entries: { at: number; bytes: number }[] = [];
  private used = 0;

  constructor(
    private readonly limitBytes = UPLOAD_BUDGET_BYTES,
    private readonly windowMs = UPLOAD_BUDGET_WINDOW_MS,
  ) {}

  record(bytes: number, now: number): void {
    if (bytes <= 0) return;
    this.expire(now);
    this.entries.push({ at: now, bytes });
    this.used += bytes;
  }

  /**
   * How long until `bytes` more fit in the window (0: now). A request larger than the whole
   * budget waits for an empty window, then goes: it can never fit better.
   */
  msUntilRoom(bytes: number, now: number): number {
    this.expire(now);
    const needed = Math.min(bytes, this.limitBytes);
    let used = this.used;
    for (const entry of this.entries) {
      if (used + needed <= this.limitBytes) break;
      used -= entry.bytes;
      if (used + needed <= this.limitBytes) return entry.at + this.windowMs - now;
    }
    return used + needed <= this.limitBytes ? 0 : this.windowMs;
  }

  private expire(now: number): void {
    while (this.entries.length > 0 && (this.entries[0]?.at ?? now) + this.windowMs <= now) {
      this.used -= this.entries.shift()?.bytes ?? 0;
    }
  }
}
