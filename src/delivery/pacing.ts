/**
 * "At most N messages in any window of S seconds", counted the way Exchange Online counts them:
 * when a message is ACCEPTED (the 250 after DATA), 30 a minute per mailbox (Exchange Online
 * limits, https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits).
 *
 * A send may start only while (accepted in the last S seconds) + (sends in flight) < N. Proof
 * that no window measured at acceptance holds more than N: take the messages accepted in a
 * window (t-S, t]; when the last of them to START began, every other one was either in flight
 * or already accepted inside (start-S, start], so at most N-1 others were counted, hence at
 * most N in the window. A send that fails (a refused connection, a 4xx) gives its place back:
 * failed connections do not use up the message budget.
 *
 * The acceptance times are kept in a small file in the data folder, so a restart does not
 * start with an empty window (three at once after a restart drew 432 4.3.2 before).
 */

/**
 * The file is written at most this long after an acceptance, once for all the acceptances
 * meanwhile, and at once on a clean stop. Writing it after every message cost six file
 * operations per message (docs/performance.md); a relay killed outright forgets at most this
 * much of the window, which can cost a 4.3.2 deferral after the restart, never a message.
 */
export const PACING_SAVE_DELAY_MS = 1000;
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../core/clock.js';

export class AcceptancePacer {
  private accepted: number[];
  private reserved = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    acceptedBefore: readonly number[] = [],
  ) {
    this.accepted = [...acceptedBefore].sort((a, b) => a - b);
  }

  /** 0 when a send may start now; Infinity when only a send in flight finishing can free a place. */
  msUntilNextSlot(now: number): number {
    this.forgetBefore(now - this.windowMs);
    const over = this.accepted.length + this.reserved - this.limit;
    if (over < 0) return 0;
    // The (over+1)-th oldest acceptance must leave the window; sends in flight cannot be waited out.
    const leaving = this.accepted[over];
    return leaving === undefined ? Infinity : Math.max(1, leaving + this.windowMs - now);
  }

  /** A send starts: it holds a place until it is accepted or has failed. */
  reserve(): void {
    this.reserved += 1;
  }

  /** The send ended; `acceptedAt` when the upstream accepted the message. */
  release(acceptedAt?: number): void {
    this.reserved = Math.max(0, this.reserved - 1);
    if (acceptedAt !== undefined) this.accepted.push(acceptedAt);
  }

  /** Acceptance times still inside the window, for the file. */
  recent(now: number): number[] {
    this.forgetBefore(now - this.windowMs);
    return [...this.accepted];
  }

  private forgetBefore(cutoff: number): void {
    // An acceptance at exactly `now - window` has left the window: the window is (now - S, now].
    while (this.accepted.length > 0 && (this.accepted[0] ?? Infinity) <= cutoff) this.accepted.shift();
  }
}

/** The acceptance times of every account, in one JSON file: { "sage": [ms, ...] }. */
export class PacingFile {
  private writing: Promise<void> = Promise.resolve();
  private folderMade = false;

  constructor(private readonly path: string) {}

  async load(): Promise<Record<string, number[]>> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.path, 'utf8'));
      if (parsed === null || typeof parsed !== 'object') return {};
      const times: Record<string, number[]> = {};
      for (const [account, value] of Object.entries(parsed)) {
        if (Array.isArray(value)) times[account] = value.filter((item): item is number => typeof item === 'number');
      }
      return times;
    } catch {
      // Missing or damaged: the window starts empty, as before this file existed.
      return {};
    }
  }

  /** Writes in order, one at a time; a failure is reported, never thrown into delivery. */
  save(times: Record<string, number[]>, onError: (error: Error) => void): void {
    this.writing = this.writing.then(async () => {
      try {
        if (!this.folderMade) await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
        this.folderMade = true;
        const temporary = `${this.path}.tmp`;
        await writeFile(temporary, JSON.stringify(times), { mode: 0o600 });
        await rename(temporary, this.path);
      } catch (error) {
        onError(error as Error);
      }
    });
  }

  /** Resolves when the writes asked for so far are done. */
  flushed(): Promise<void> {
    return this.writing;
  }
}

/** Writes the pacing window at most once per PACING_SAVE_DELAY_MS, and at once on a clean stop. */
export class PacingSaver {
  /** Set while a write is scheduled. */
  private cancelScheduled: (() => void) | undefined;

  constructor(
    private readonly file: PacingFile,
    private readonly clock: Clock,
    private readonly window: (now: number) => Record<string, number[]>,
    private readonly onError: (error: Error) => void,
  ) {}

  /** One write per PACING_SAVE_DELAY_MS however many messages were accepted meanwhile. */
  soon(): void {
    if (this.cancelScheduled !== undefined) return;
    this.cancelScheduled = this.clock.setTimer(PACING_SAVE_DELAY_MS, () => {
      this.cancelScheduled = undefined;
      this.save();
    });
  }

  /** A clean stop: a scheduled write happens now; resolves when every write is done. */
  async flush(): Promise<void> {
    if (this.cancelScheduled !== undefined) {
      this.cancelScheduled();
      this.cancelScheduled = undefined;
      this.save();
    }
    await this.file.flushed();
  }

  private save(): void {
    this.file.save(this.window(this.clock.now()), this.onError);
  }
}
