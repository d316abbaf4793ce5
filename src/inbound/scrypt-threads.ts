/**
 * scrypt in dedicated worker threads (scryptSync there), so that password checks never take
 * a slot of the libuv thread pool: node's asynchronous `crypto.scrypt` runs on that pool,
 * the same four threads that carry every fs call of the spool (write, fsync, rename), and a
 * burst of AUTH attempts used to hold up the fsyncs before `250` for minutes
 * (docs/performance.md, "AUTH flood").
 *
 * The threads start on the first check and end after IDLE_MS without one: an idle relay holds
 * no worker isolate and no scrypt buffer. They are unref'd, so they never keep a stopping
 * process alive. The worker is a few lines of CommonJS given to `eval`, so the same code runs
 * from dist/ and from the TypeScript sources under test.
 */
import { Worker } from 'node:worker_threads';
import type { Derive, ScryptJob } from './password-hash.js';

/** A worker thread that has been idle this long is stopped. */
export const IDLE_MS = 30_000;
/** The scrypt thread's nice value (Linux): the lowest priority, so intake never waits for it. */
const NICE = 19;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
// Linux applies setpriority(PRIO_PROCESS, 0) to the calling thread only: this thread yields the
// CPU to the event loop that answers SMTP (elsewhere it would renice the whole process).
if (process.platform === 'linux') {
  try { require('node:os').setPriority(0, ${NICE}); } catch {}
}
parentPort.on('message', ({ id, password, salt, length, options }) => {
  try {
    parentPort.postMessage({ id, key: scryptSync(password, Buffer.from(salt), length, options) });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
});
`;

interface Pending {
  readonly resolve: (key: Buffer) => void;
  readonly reject: (error: Error) => void;
}

/** One worker thread, one job at a time (the caller, kdf-queue.ts, bounds the concurrency). */
class ScryptThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  derive(password: string, job: ScryptJob): Promise<Buffer> {
    const worker = this.started();
    clearTimeout(this.idleTimer);
    const id = (this.nextId += 1);
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, password, salt: job.salt, length: job.length, options: job.options });
    });
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    return worker === undefined ? Promise.resolve() : worker.terminate().then(() => undefined);
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (message: { id: number; key?: Uint8Array; error?: string }) => this.settle(message));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new Error(`the scrypt worker exited (${code})`));
    });
    this.worker = worker;
    return worker;
  }

  private settle({ id, key, error }: { id: number; key?: Uint8Array; error?: string }): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    if (key !== undefined) pending.resolve(Buffer.from(key.buffer, key.byteOffset, key.byteLength));
    else pending.reject(new Error(error ?? 'scrypt failed'));
    if (this.pending.size === 0) this.idleTimer = setTimeout(() => void this.stop(), IDLE_MS).unref();
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/** `threads` worker threads; a check goes to an idle one (kdf-queue.ts never asks for more). */
export class ScryptThreads {
  private readonly threads: ScryptThread[];

  constructor(threads: number) {
    this.threads = Array.from({ length: threads }, () => new ScryptThread());
  }

  readonly derive: Derive = (password, job) => {
    const thread = this.threads.find((candidate) => !candidate.busy) ?? this.threads[0];
    if (thread === undefined) return Promise.reject(new Error('no scrypt thread'));
    return thread.derive(password, job);
  };

  async stop(): Promise<void> {
    await Promise.all(this.threads.map((thread) => thread.stop()));
  }
}
