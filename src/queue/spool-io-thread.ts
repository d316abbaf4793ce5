/**
 * The spool's file work for intake, on a thread of its own (docs/performance.md, "The accept
 * path"). Each call through fs/promises costs the event loop a hand-over to the libuv pool and
 * back, some 25-50 µs each on a virtual machine, and a message took about ten of them before
 * its 250. Here the opens, writes, closes and unlinks are plain synchronous calls on this
 * thread, and the event loop posts one message per accepted message and gets one reply.
 *
 * The fsyncs still go to the pool, all at once: each message file and queue/ flush in parallel
 * (one device round trip, where two in a row would take two), and a batch of commits that
 * arrived together shares one fsync of queue/ (group commit, as Postfix's cleanup and Haraka's
 * queue do for their files).
 *
 * `spoolIoThread` runs from its source text (`Function.prototype.toString`) in a worker made
 * with `eval: true`, so that the single-file Windows build needs no second script: it must use
 * nothing but its parameters. Only types are imported here.
 */
import type * as Fs from 'node:fs';
import type { MessagePort } from 'node:worker_threads';

/** Steps for one file, by key, in the order they must happen. A post carries several. */
export type SpoolIoRequest =
  | { readonly op: 'open'; readonly key: number; readonly path: string }
  | { readonly op: 'write'; readonly key: number; readonly data: Uint8Array; readonly ack: boolean }
  /** Fsyncs the file (its record written at its end already, record-trailer.ts) and the folder, closes it. */
  | { readonly op: 'commit'; readonly key: number }
  /** Closes and removes a file that will not be committed. */
  | { readonly op: 'abort'; readonly key: number }
  /**
   * Removes `message`, and then its `record` file if it has one, once an fsync of the folder
   * begun after the first removal has finished.
   */
  | { readonly op: 'remove'; readonly key: number; readonly message: string; readonly record: string };

/** The fs error of a step, as far as structured clone carries it. */
export interface SpoolIoFailure {
  readonly message: string;
  readonly code?: string | undefined;
  readonly syscall?: string | undefined;
  readonly path?: string | undefined;
}

/** Sent for `commit`, `abort`, `remove` and a `write` that asked for `ack`; several per post. */
export interface SpoolIoReply {
  readonly key: number;
  readonly failure?: SpoolIoFailure;
}

export interface SpoolIoThreadData {
  /** queue/, kept open for its fsyncs; undefined where folders cannot be fsynced (Windows). */
  readonly folder: string | undefined;
  readonly fileMode: number;
  /** How long a removal waits for a commit's folder fsync to share (REMOVAL_FSYNC_WAIT_MS). */
  readonly removalWaitMs: number;
  /** How many streamed bytes between two minor collections (transient-buffers.ts). */
  readonly releaseEveryBytes: number;
}

interface OpenFile {
  readonly path: string;
  readonly fd: number | undefined;
  /** The first error of its open or writes, reported at its commit or acknowledgement. */
  failure: unknown;
}

/** A commit of the batch under way: its file written whole, its fsyncs to come. */
interface Commit {
  readonly key: number;
  readonly file: OpenFile;
  failure: unknown;
}

/** A removal whose record file waits for an fsync of the folder before it goes. */
interface Removal {
  readonly key: number;
  readonly record: string;
}

/**
 * The thread's whole program; see the file comment for why it stands alone. Returns what closes
 * its handle on the folder, for a program run on the event loop (spool-io.ts, `runsHere`).
 */
export function spoolIoThread(fs: typeof Fs, port: MessagePort, data: SpoolIoThreadData, minorGc?: () => void): () => void {
  const files = new Map<number, OpenFile>();
  let inbox: SpoolIoRequest[] = [];
  let scheduled = false;
  let folderFd: number | undefined;
  let waitingRemovals: Removal[] = [];
  let removalTimer: ReturnType<typeof setTimeout> | undefined;
  let removalWaitOver = false;
  /** The posted buffers are garbage once written, but only a collection frees them (transient-buffers.ts). */
  let sinceCollection = 0;

  const asFailure = (error: unknown): SpoolIoFailure => {
    const e = error as Partial<NodeJS.ErrnoException>;
    return { message: String(e.message ?? error), code: e.code, syscall: e.syscall, path: e.path };
  };
  const reply = (key: number, failure: unknown): SpoolIoReply => (failure === undefined ? { key } : { key, failure: asFailure(failure) });
  const closeQuietly = (fd: number | undefined): void => {
    if (fd === undefined) return;
    try {
      fs.closeSync(fd);
    } catch {
      // Nothing more can be done with it.
    }
  };
  const unlinkQuietly = (path: string): void => {
    try {
      fs.unlinkSync(path);
    } catch {
      // Gone already, or recovery removes it at the next start (an .eml without a record).
    }
  };
  const writeAll = (fd: number, bytes: Uint8Array): void => {
    let offset = 0;
    while (offset < bytes.length) {
      const written = fs.writeSync(fd, bytes, offset, bytes.length - offset);
      // A write that stores nothing without an error would loop forever.
      if (written === 0) throw new Error('The disk accepted no bytes');
      offset += written;
    }
  };
  const fsync = (fd: number | undefined): Promise<void> =>
    new Promise((resolve, reject) => (fd === undefined ? resolve() : fs.fsync(fd, (error) => (error === null ? resolve() : reject(error)))));
  const fsyncFolder = (): Promise<void> => {
    if (data.folder === undefined) return Promise.resolve();
    let fd: number;
    try {
      fd = folderFd ??= fs.openSync(data.folder, 'r');
    } catch (error) {
      return Promise.reject(error);
    }
    return fsync(fd).catch((error: unknown) => {
      // Opened again next time, in case the folder itself was the problem.
      if (folderFd === fd) folderFd = undefined;
      closeQuietly(fd);
      throw error;
    });
  };

  const open = (key: number, path: string): void => {
    try {
      files.set(key, { path, fd: fs.openSync(path, 'w', data.fileMode), failure: undefined });
    } catch (error) {
      files.set(key, { path, fd: undefined, failure: error });
    }
  };
  const write = (key: number, bytes: Uint8Array): OpenFile | undefined => {
    const file = files.get(key);
    if (file === undefined || file.failure !== undefined || file.fd === undefined) return file;
    try {
      writeAll(file.fd, bytes);
    } catch (error) {
      file.failure = error;
    }
    sinceCollection += bytes.length;
    if (sinceCollection >= data.releaseEveryBytes) {
      sinceCollection = 0;
      minorGc?.();
    }
    return file;
  };
  const startCommit = (key: number): Commit => {
    const file = files.get(key) ?? { path: '', fd: undefined, failure: new Error(`No message file under key ${key}`) };
    files.delete(key);
    return { key, file, failure: file.failure };
  };
  const endCommit = (commit: Commit): SpoolIoReply => {
    closeQuietly(commit.file.fd);
    // Not acknowledged, so nothing may stay: the client will send it again.
    if (commit.failure !== undefined && commit.file.path !== '') unlinkQuietly(commit.file.path);
    return reply(commit.key, commit.failure);
  };
  const abort = (key: number): SpoolIoReply => {
    const file = files.get(key);
    files.delete(key);
    if (file !== undefined) {
      closeQuietly(file.fd);
      unlinkQuietly(file.path);
    }
    return { key };
  };
  /**
   * The message's unlink; undefined when its record file waits for a folder fsync, else the
   * reply. A message without a record file is gone with that one unlink: if a crash undoes it,
   * the message is delivered a second time (at least once), as after a crash just before it.
   */
  const removeMessage = (key: number, message: string, record: string): SpoolIoReply | undefined => {
    try {
      fs.unlinkSync(message);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return reply(key, error);
    }
    if (!fs.existsSync(record)) return { key };
    waitingRemovals.push({ key, record });
    return undefined;
  };
  const takeRemovals = (): Removal[] => {
    const taken = waitingRemovals;
    waitingRemovals = [];
    removalWaitOver = false;
    if (removalTimer !== undefined) clearTimeout(removalTimer);
    removalTimer = undefined;
    return taken;
  };
  /** Removals share a batch's folder fsync; alone, they wait a little for a commit to share. */
  const removalsDue = (commits: number): boolean => {
    if (waitingRemovals.length === 0) return false;
    if (commits > 0 || removalWaitOver) return true;
    removalTimer ??= setTimeout(() => {
      removalTimer = undefined;
      removalWaitOver = true;
      schedule();
    }, data.removalWaitMs);
    return false;
  };

  /** One batch: every step in order, then the fsyncs of its commits and removals together. */
  const run = async (): Promise<void> => {
    scheduled = false;
    const batch = inbox;
    inbox = [];
    const replies: SpoolIoReply[] = [];
    const commits: Commit[] = [];
    for (const request of batch) {
      if (request.op === 'open') open(request.key, request.path);
      else if (request.op === 'write') {
        const file = write(request.key, request.data);
        if (request.ack) replies.push(reply(request.key, file === undefined ? new Error(`No message file under key ${request.key}`) : file.failure));
      } else if (request.op === 'commit') commits.push(startCommit(request.key));
      else if (request.op === 'abort') replies.push(abort(request.key));
      else {
        const answered = removeMessage(request.key, request.message, request.record);
        if (answered !== undefined) replies.push(answered);
      }
    }
    const durable = commits.filter((commit) => commit.failure === undefined);
    const removals = removalsDue(durable.length) ? takeRemovals() : [];
    if (durable.length > 0 || removals.length > 0) {
      const [folder, ...flushed] = await Promise.allSettled([fsyncFolder(), ...durable.map((commit) => fsync(commit.file.fd))]);
      const folderFailure = folder?.status === 'rejected' ? (folder.reason as unknown) : undefined;
      durable.forEach((commit, index) => {
        const own = flushed[index];
        commit.failure = own?.status === 'rejected' ? (own.reason as unknown) : folderFailure;
      });
      for (const removal of removals) {
        // Before the message's removal is durable, a crash could bring the message back with
        // the first record at its end instead of this newer one (a partial delivery forgotten).
        if (folderFailure === undefined) unlinkQuietly(removal.record);
        replies.push(reply(removal.key, folderFailure));
      }
    }
    for (const commit of commits) replies.push(endCommit(commit));
    if (replies.length > 0) port.postMessage(replies);
  };

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    // Everything that arrives before the batch starts joins it.
    setImmediate(() => void run());
  };
  port.on('message', (requests: SpoolIoRequest[]) => {
    for (const request of requests) inbox.push(request);
    schedule();
  });
  return () => {
    closeQuietly(folderFd);
    folderFd = undefined;
  };
}
