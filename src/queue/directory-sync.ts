/**
 * Group commit for a folder's fsync: callers that ask while one fsync(2) of the folder is under
 * way share the next one, which starts when the current one ends. Every caller still returns
 * only after an fsync that began after its call, so each rename or unlink it made before asking
 * is durable exactly as with its own fsync (docs/architecture.md, "Queue, not pass-through"); there are
 * just fewer of them when intake commits and delivery removals overlap in queue/, and fewer
 * open/fsync/close calls waiting on the libuv pool (docs/performance.md, "Accept path").
 */
import { fsyncDirectory } from './durable-fs.js';

export class DirectorySync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly sync: (dir: string) => Promise<void> = fsyncDirectory,
  ) {}

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

  private start(): Promise<void> {
    const started = this.sync(this.dir).finally(() => {
      if (this.running === started) this.running = undefined;
    });
    this.running = started;
    return started;
  }
}
