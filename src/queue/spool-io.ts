/**
 * The event loop's side of the spool I/O thread (spool-io-thread.ts): message files written,
 * committed, aborted and removed there, one post and one reply per step that needs an answer.
 *
 * A message of up to INLINE_BYTES stays in memory until its commit and travels in the same post
 * as the commit, so an ordinary message costs one post and one reply. A larger one streams to
 * the thread as it arrives, and waits for the thread after every ACK_EVERY_BYTES, so that no
 * more than that is ever in flight (the 30 MiB message of docs/performance.md, "Memory").
 *
 * An ordinary message whose commit finds nothing else under way is committed by the same program
 * on this event loop instead (`runsHere`): one client sending one message at a time, as most
 * legacy programs do, never waits for the thread's two hand-overs.
 *
 * The thread starts when it is first needed, not with the relay: an idle relay has no use for it.
 */
import * as fs from 'node:fs';
import { Worker, type MessagePort } from 'node:worker_threads';
import { SpoolFileWriter } from './spool-file-writer.js';
import { spoolIoThread, type SpoolIoFailure, type SpoolIoReply, type SpoolIoRequest, type SpoolIoThreadData } from './spool-io-thread.js';

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
  /** Answered by the program on this event loop (SpoolIo.runsHere), not by the thread. */
  readonly here: boolean;
}

export class SpoolIo {
  private worker: Worker | undefined;
  private nextKey = 1;
  /** Per key, in the order the thread answers them. */
  private readonly waiters = new Map<number, Waiter[]>();
  /** Answers awaited from the thread. */
  private pending = 0;
  /** Answers awaited from the program on this event loop. */
  private pendingHere = 0;
  /** The thread's program run on this event loop (runsHere), made at its first use. */
  private here: ((requests: SpoolIoRequest[]) => void) | undefined;
  private closeHere: (() => void) | undefined;

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

  /** Removes `message`, then its `record` file, if any, once that removal is durable (a folder fsync begun after it). */
  remove(message: string, record: string): Promise<void> {
    const key = this.nextKey++;
    const answered = this.expect(key);
    this.post([{ op: 'remove', key, message, record }]);
    return answered;
  }

  /** Stops the thread and closes the folder of the program here; call once nothing is under way (Spool.close waits for that). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.closeHere?.();
    this.closeHere = undefined;
    this.here = undefined;
    await worker?.terminate();
  }

  /**
   * @internal for SpoolFileWriter: whether an ordinary message's commit should run on this event
   * loop instead of the thread. With nothing else under way, the thread's two hand-overs (its
   * wake-up and the reply's) are most of what separates the fsyncs from the 250 (0.15-0.2 ms of
   * a 1-client submission, docs/performance.md, "The spool I/O thread"), while its few synchronous
   * calls cost this loop less than that. Under concurrent commits, the thread keeps them off it.
   */
  runsHere(): boolean {
    return this.pending === 0 && this.pendingHere === 0;
  }

  /** @internal for SpoolFileWriter; `here`: to the program on this event loop (runsHere). */
  post(requests: SpoolIoRequest[], transfer: ArrayBuffer[] = [], here = false): void {
    if (here) this.programHere()(requests);
    else this.thread().postMessage(requests, transfer);
  }

  /** @internal for SpoolFileWriter: the next answer for `key`, from the thread or from here. */
  expect(key: number, here = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject, here };
      const queue = this.waiters.get(key);
      if (queue === undefined) this.waiters.set(key, [waiter]);
      else queue.push(waiter);
      if (here) {
        this.pendingHere += 1;
        return;
      }
      this.pending += 1;
      // While an answer is awaited the thread keeps the process alive, and only then.
      if (this.pending === 1) this.worker?.ref();
    });
  }

  /** The same program as the thread's, on this event loop, with a port that answers at once. */
  private programHere(): (requests: SpoolIoRequest[]) => void {
    if (this.here !== undefined) return this.here;
    let deliver: (requests: SpoolIoRequest[]) => void = () => undefined;
    const port = {
      on: (_event: 'message', listener: (requests: SpoolIoRequest[]) => void) => void (deliver = listener),
      postMessage: (replies: SpoolIoReply[]) => this.answer(replies),
    };
    this.closeHere = spoolIoThread(fs, port as unknown as MessagePort, this.data);
    this.here = (requests) => deliver(requests);
    return this.here;
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
      this.settled(waiter);
      if (reply.failure === undefined) waiter.resolve();
      else waiter.reject(new SpoolIoError(reply.failure));
    }
  }

  /** Every step under way on the thread fails: its files were left as a crash leaves them (recovery.ts). */
  private failAll(error: Error): void {
    for (const [key, queue] of [...this.waiters]) {
      const onThread = queue.filter((waiter) => !waiter.here);
      if (onThread.length === 0) continue;
      // A key's steps all go one way (a commit here is a whole message in one post).
      this.waiters.delete(key);
      for (const waiter of onThread) {
        this.settled(waiter);
        waiter.reject(error);
      }
    }
  }

  private settled(waiter: Waiter): void {
    if (waiter.here) {
      this.pendingHere -= 1;
      return;
    }
    this.pending -= 1;
    if (this.pending === 0) this.worker?.unref();
  }
}
