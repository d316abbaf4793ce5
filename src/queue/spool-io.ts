/**
 * The event loop's side of the spool I/O thread (spool-io-thread.ts): message files written,
 * committed, aborted and removed there, one post and one reply per step that needs an answer.
 *
 * A message of up to INLINE_BYTES stays in memory until its commit and travels in the same post
 * as the commit, so an ordinary message costs one post and one reply. A larger one streams to
 * the thread as it arrives, and waits for the thread after every ACK_EVERY_BYTES, so that no
 * more than that is ever in flight (the 30 MiB message of docs/performance.md, "Memory").
 *
 * The thread starts at the first message, not with the relay: an idle relay has no use for it.
 */
import { Worker } from 'node:worker_threads';
import { spoolIoThread, type SpoolIoFailure, type SpoolIoReply, type SpoolIoRequest, type SpoolIoThreadData } from './spool-io-thread.js';

/** Messages up to this size are posted whole with their commit. */
export const INLINE_BYTES = 256 * 1024;
/** Beyond INLINE_BYTES, the message goes to the thread in posts of this size... */
const STREAM_POST_BYTES = 64 * 1024;
/** ...and waits for the thread's acknowledgement this often: at most this much is in flight. */
export const ACK_EVERY_BYTES = 128 * 1024;
/**
 * The thread frees the buffers it was posted after this many bytes (a minor collection, as in
 * transient-buffers.ts): what a 30 MiB message adds to the relay's RSS stays small.
 */
const THREAD_RELEASE_EVERY_BYTES = 512 * 1024;

/**
 * Where the thread's program comes from. `__name` stands in for the helper that esbuild's
 * keepNames (tsx) wraps around named functions: the source must run on its own. V8's gc
 * function is reached as in transient-buffers.ts, for the minor collections that free the
 * buffers a large message was posted in.
 */
const THREAD_SOURCE = `'use strict';
const __name = (target) => target;
const { parentPort, workerData } = require('node:worker_threads');
let minorGc;
try {
  require('node:v8').setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  if (typeof gc === 'function') minorGc = () => void gc({ type: 'minor', execution: 'async' });
} catch {}
(${spoolIoThread.toString()})(require('node:fs'), parentPort, workerData, minorGc);`;

/** An fs error from the thread, with the fields fs errors have (code, syscall, path). */
export class SpoolIoError extends Error {
  readonly code: string | undefined;
  readonly syscall: string | undefined;
  readonly path: string | undefined;

  constructor(failure: SpoolIoFailure) {
    super(failure.message);
    this.name = 'SpoolIoError';
    this.code = failure.code;
    this.syscall = failure.syscall;
    this.path = failure.path;
  }
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class SpoolIo {
  private worker: Worker | undefined;
  private nextKey = 1;
  /** Per key, in the order the thread answers them. */
  private readonly waiters = new Map<number, Waiter[]>();
  private pending = 0;

  private readonly data: SpoolIoThreadData;

  /** `threadSource` replaces the thread's program (tests of a thread that dies). */
  constructor(
    options: Omit<SpoolIoThreadData, 'releaseEveryBytes'>,
    private readonly threadSource = THREAD_SOURCE,
  ) {
    this.data = { ...options, releaseEveryBytes: THREAD_RELEASE_EVERY_BYTES };
  }

  /** A new message file at `path`. Nothing reaches the disk before it is large or committed. */
  create(path: string): SpoolFileWriter {
    return new SpoolFileWriter(this, this.nextKey++, path);
  }

  /** Removes `first`, then `then` once that removal is durable (a folder fsync begun after it). */
  remove(first: string, then: string): Promise<void> {
    const key = this.nextKey++;
    const answered = this.expect(key);
    this.post([{ op: 'remove', key, first, then }]);
    return answered;
  }

  /** Stops the thread; call once nothing is under way (Spool.close waits for that). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  /** @internal for SpoolFileWriter */
  post(requests: SpoolIoRequest[], transfer: ArrayBuffer[] = []): void {
    this.thread().postMessage(requests, transfer);
  }

  /** @internal for SpoolFileWriter: the next answer for `key`. */
  expect(key: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const queue = this.waiters.get(key);
      if (queue === undefined) this.waiters.set(key, [{ resolve, reject }]);
      else queue.push({ resolve, reject });
      this.pending += 1;
      // While an answer is awaited the thread keeps the process alive, and only then.
      if (this.pending === 1) this.worker?.ref();
    });
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(this.threadSource, {
      eval: true,
      workerData: this.data,
      // It holds little more than a batch of posts: a small young generation keeps its RSS small.
      // No cap on the old one: a thread that ran out of heap could take the relay with it.
      resourceLimits: { maxYoungGenerationSizeMb: 1 },
    });
    worker.on('message', (replies: SpoolIoReply[]) => this.answer(replies));
    const stopped = (error: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(error);
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => stopped(new Error(`The spool I/O thread stopped (exit code ${code})`)));
    if (this.pending === 0) worker.unref();
    this.worker = worker;
    return worker;
  }

  private answer(replies: readonly SpoolIoReply[]): void {
    for (const reply of replies) {
      const queue = this.waiters.get(reply.key);
      const waiter = queue?.shift();
      if (queue?.length === 0) this.waiters.delete(reply.key);
      if (waiter === undefined) continue;
      this.settled();
      if (reply.failure === undefined) waiter.resolve();
      else waiter.reject(new SpoolIoError(reply.failure));
    }
  }

  /** Every step under way fails: its files were left as a crash leaves them (recovery.ts). */
  private failAll(error: Error): void {
    const queues = [...this.waiters.values()];
    this.waiters.clear();
    for (const queue of queues) {
      for (const waiter of queue) {
        this.settled();
        waiter.reject(error);
      }
    }
  }

  private settled(): void {
    this.pending -= 1;
    if (this.pending === 0) this.worker?.unref();
  }
}

/** One message file on its way to the thread. */
export class SpoolFileWriter {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private streaming = false;
  private unacknowledged = 0;
  private finished = false;

  constructor(
    private readonly io: SpoolIo,
    private readonly key: number,
    readonly path: string,
  ) {}

  /** Resolves at once, or when the thread has caught up (large messages). Rejects on a disk error. */
  write(chunk: Buffer): Promise<void> | undefined {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes <= (this.streaming ? STREAM_POST_BYTES : INLINE_BYTES)) return undefined;
    const requests: SpoolIoRequest[] = this.streaming ? [] : [{ op: 'open', key: this.key, path: this.path }];
    this.streaming = true;
    this.unacknowledged += this.heldBytes;
    const ack = this.unacknowledged >= ACK_EVERY_BYTES;
    if (ack) this.unacknowledged = 0;
    requests.push(...this.takeHeld(ack));
    const caughtUp = ack ? this.io.expect(this.key) : undefined;
    this.io.post(requests, transferList(requests));
    return caughtUp;
  }

  /** The input ended: a streamed message's last bytes go to the thread, which is waited for. */
  end(): Promise<void> | undefined {
    if (!this.streaming) return undefined;
    this.unacknowledged = 0;
    const requests = this.takeHeld(true);
    const caughtUp = this.io.expect(this.key);
    this.io.post(requests, transferList(requests));
    return caughtUp;
  }

  /** Creates the record beside the file and makes both and the folder durable, or removes both. */
  commit(recordPath: string, record: string): Promise<void> {
    this.finished = true;
    const requests: SpoolIoRequest[] = this.streaming ? [] : [{ op: 'open', key: this.key, path: this.path }, ...this.takeHeld(false)];
    requests.push({ op: 'commit', key: this.key, recordPath, record });
    const answered = this.io.expect(this.key);
    this.io.post(requests, transferList(requests));
    return answered;
  }

  /** Drops the file: nothing was acknowledged. Safe to call more than once, and after a failed commit. */
  abort(): Promise<void> {
    this.held = [];
    if (!this.streaming || this.finished) return Promise.resolve();
    this.finished = true;
    const answered = this.io.expect(this.key);
    this.io.post([{ op: 'abort', key: this.key }]);
    return answered;
  }

  /** The held chunks as one write of an ArrayBuffer of their own (posted without a copy). */
  private takeHeld(ack: boolean): SpoolIoRequest[] {
    const data = new Uint8Array(this.heldBytes);
    let offset = 0;
    for (const chunk of this.held) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
    this.held = [];
    this.heldBytes = 0;
    return data.length === 0 && !ack ? [] : [{ op: 'write', key: this.key, data, ack }];
  }
}

/** The buffers of the writes: moved to the thread, not copied (each is a buffer of its own). */
function transferList(requests: readonly SpoolIoRequest[]): ArrayBuffer[] {
  return requests.flatMap((request) => (request.op === 'write' && request.data.byteLength > 0 ? [request.data.buffer as ArrayBuffer] : []));
}
