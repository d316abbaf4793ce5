/**
 * Group commit for a folder's fsync: callers that ask while one fsync(2) of the folder is under
 * way share the next one, which starts when the current one ends. Every caller still returns
 * only after an fsync that began after its call, so each rename or unlink it made before asking
 * is durable exactly as with its own fsync (docs/architecture.md, "Queue, not pass-through"); there are
 * just fewer of them when intake commits and delivery removals overlap in queue/, and fewer
 * open/fsync/close calls waiting on the libuv pool (docs/performance.md, "Accept path").
 */
import { open, type FileHandle } from 'node:fs/promises';
import { DIRECTORY_FSYNC } from './durable-fs.js';

export class DirectorySync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  /** Callers of `requestWithin` waiting for the next fsync anybody starts. */
  private joining: { readonly promise: Promise<void>; readonly join: (started: Promise<void>) => void } | undefined;
  /** The folder, opened once: two calls (open, close) fewer per fsync, twice per message. */
  private handle: Promise<FileHandle> | undefined;
  private readonly sync: (dir: string) => Promise<void>;

  /** `sync` replaces the fsync (tests); by default the folder is kept open until `close`. */
  constructor(
    private readonly dir: string,
    sync?: (dir: string) => Promise<void>,
  ) {
    this.sync = sync ?? (() => this.fsyncKeptOpen());
  }

  /** Resolves after an fsync of the folder that started after this call has finished. */
  request(): Promise<void> {
    const running = this.running;
    if (running === undefined) return this.start();
    this.next ??= running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  /**
   * Like `request`, but starts no fsync of its own for up to `maxDelayMs`: it shares the next
   * one that anybody starts (while mail comes in, every commit starts one), and only a quiet
   * folder gets an fsync for it after the delay. For steps that must be durable before the next
   * step but that nobody waits for (a delivered message's removal), so that they do not put an
   * fsync of their own in the way of a commit that a client is waiting for.
   */
  requestWithin(maxDelayMs: number): Promise<void> {
    if (this.joining !== undefined) return this.joining.promise;
    let join: (started: Promise<void>) => void = () => undefined;
    const promise = new Promise<void>((resolve, reject) => {
      join = (started) => started.then(resolve, reject);
    });
    const timer = setTimeout(() => void this.request().catch(() => undefined), maxDelayMs);
    this.joining = {
      promise,
      join: (started) => {
        clearTimeout(timer);
        join(started);
      },
    };
    return promise;
  }

  /** Closes the folder once no fsync is under way (FileHandle.close waits for them). */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await (await handle?.catch(() => undefined))?.close();
  }

  private async fsyncKeptOpen(): Promise<void> {
    if (!DIRECTORY_FSYNC) return;
    const opening = (this.handle ??= open(this.dir, 'r'));
    let handle: FileHandle;
    try {
      handle = await opening;
    } catch (error) {
      if (this.handle === opening) this.handle = undefined;
      throw error;
    }
    try {
      await handle.sync();
    } catch (error) {
      // Open it again next time, in case the folder itself was the problem.
      if (this.handle === opening) this.handle = undefined;
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  private start(): Promise<void> {
    const started = this.sync(this.dir).finally(() => {
      if (this.running === started) this.running = undefined;
    });
    this.running = started;
    // Whoever joined before this fsync began is served by it.
    this.joining?.join(started);
    this.joining = undefined;
    return started;
  }
}
