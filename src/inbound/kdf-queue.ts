/**
 * The bounded password-check path: at most `concurrency` key derivations at a time and at
 * most `maxWaiting` more in line. Beyond that a check is refused at once (the AUTH hook
 * answers 454 4.7.0, RFC 4954 section 6 "Temporary authentication failure") instead of
 * queueing without end: each scrypt holds 32 MiB and ~100 ms of a core, and an AUTH flood
 * must neither grow the relay's memory nor starve mail intake (docs/performance.md).
 *
 * A check carries the AbortSignal of its SMTP session: when the client disconnects while
 * the check waits, it leaves the line without costing a derivation. A derivation already
 * running cannot be interrupted; its result is simply not used.
 */
export class KdfBusyError extends Error {
  constructor() {
    super('Too many password checks waiting');
    this.name = 'KdfBusyError';
  }
}

export class KdfAbortedError extends Error {
  constructor() {
    super('The client went away before its password was checked');
    this.name = 'KdfAbortedError';
  }
}

interface Waiting {
  readonly start: () => void;
  readonly signal: AbortSignal | undefined;
  readonly reject: (error: Error) => void;
}

export class KdfQueue {
  private running = 0;
  private readonly waiting: Waiting[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  /** Checks running and waiting, for tests and the status. */
  get load(): { readonly running: number; readonly waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /**
   * Runs `job` when a slot is free. Rejects with KdfBusyError when the line is full and with
   * KdfAbortedError when `signal` fires before the job started.
   */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(new KdfAbortedError());
    if (this.running < this.concurrency) return this.start(job);
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new KdfBusyError());
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        signal,
        reject,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.start(job).then(resolve, reject);
        },
      };
      const onAbort = (): void => {
        const index = this.waiting.indexOf(entry);
        if (index === -1) return;
        this.waiting.splice(index, 1);
        reject(new KdfAbortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private async start<T>(job: () => Promise<T>): Promise<T> {
    this.running += 1;
    try {
      return await job();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.start();
    }
  }
}
