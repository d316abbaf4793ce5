/**
 * Streams a message to a file without holding it in memory, and tells apart the two ways it can
 * fail: the sender's stream broke (client gone) or the disk refused (full, I/O error).
 *
 * On a disk failure the rest of the input is drained, not destroyed: smtp-server reads the
 * message from the same parser as the commands, and it answers only when the DATA stream
 * ends (smtp-connection.js handler_DATA). Destroying it mid-message would leave the client
 * waiting, or the rest of the message read as commands.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Writable, type Readable } from 'node:stream';
import { PRIVATE_FILE_MODE, removeFile } from './durable-fs.js';
import { transientBufferRelease } from '../core/transient-buffers.js';

/** The input stream failed or closed before its end. */
export class MessageSourceError extends Error {
  constructor(cause: unknown) {
    super('The message stream ended before the message was complete', { cause });
    this.name = 'MessageSourceError';
  }
}

/** Fits `NodeJS.ReadableStream` and `stream.Readable` alike. */
export type MessageSource = NodeJS.ReadableStream;

/** A message file whose bytes are all written; `synced` settles when fsync(2) has finished. */
export interface WrittenMessage {
  readonly size: number;
  /**
   * The file's fsync, started as soon as the input ended, so that it runs while the caller
   * checks the headers and writes the record. Whoever commits must await it; it never
   * rejects unobserved.
   */
  readonly synced: Promise<void>;
}

/**
 * Writes `source` to `path`; resolves once every byte is written, with the fsync under way.
 * Rejects with `MessageSourceError` when the input fails, with the fs error when the disk does.
 * On rejection the partial file is removed; on a rejected `synced` the caller removes `path`.
 */
export async function writeMessageFile(source: MessageSource, path: string): Promise<WrittenMessage> {
  // Listen from the first moment: the client may go away while the file is being opened, and
  // an 'error' nobody listens to would take the whole relay down with it.
  let earlyError: unknown;
  const onEarlyError = (error: unknown): void => {
    earlyError ??= error;
  };
  source.on('error', onEarlyError);
  let handle: FileHandle;
  try {
    handle = await open(path, 'w', PRIVATE_FILE_MODE);
  } catch (error) {
    source.removeListener('error', onEarlyError);
    drain(source);
    throw error;
  }
  let size: number;
  try {
    size = await pump(source, handle, () => {
      source.removeListener('error', onEarlyError);
      return earlyError;
    });
  } catch (error) {
    // close() waits for a write still in flight (FileHandle.close in the Node docs).
    await handle.close().catch(() => undefined);
    await removeFile(path).catch(() => undefined);
    throw error;
  }
  const synced = handle.sync().finally(() => handle.close());
  synced.catch(() => undefined);
  return { size, synced };
}

/** `takeEarlyError` hands over (and stops recording) an error the input had before pumping began. */
function pump(source: MessageSource, handle: FileHandle, takeEarlyError: () => unknown): Promise<number> {
  let written = 0;
  const release = transientBufferRelease();
  const sink = new Writable({
    // Backpressure keeps at most this much (plus the source's own buffer) in memory.
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, done) {
      writeFully(handle, chunk).then(() => {
        written += chunk.length;
        release(chunk.length);
        done();
      }, done);
    },
  });

  return new Promise<number>((resolve, reject) => {
    // The client may have gone while the file was being opened: its 'close' has then been
    // emitted already and would never reach the listeners below.
    const earlyError = takeEarlyError();
    if (isDestroyed(source) || earlyError !== undefined) {
      reject(new MessageSourceError(earlyError ?? new Error('The input stream was closed before it could be read')));
      return;
    }
    let sourceEnded = false;
    const stopListening = (): void => {
      source.removeListener('error', onSourceError);
      source.removeListener('end', onSourceEnd);
      source.removeListener('close', onSourceClose);
      sink.removeListener('error', onSinkError);
      sink.removeListener('finish', onFinish);
    };
    const onSourceError = (error: unknown): void => {
      stopListening();
      source.unpipe(sink);
      sink.destroy();
      reject(new MessageSourceError(error));
    };
    const onSourceEnd = (): void => {
      sourceEnded = true;
    };
    // A Readable destroyed without an error (client disconnected) emits 'close' without 'end'.
    const onSourceClose = (): void => {
      if (!sourceEnded) onSourceError(new Error('The input stream closed early'));
    };
    const onSinkError = (error: unknown): void => {
      stopListening();
      source.unpipe(sink);
      drain(source);
      reject(error);
    };
    const onFinish = (): void => {
      stopListening();
      resolve(written);
    };
    source.on('error', onSourceError);
    source.on('end', onSourceEnd);
    source.on('close', onSourceClose);
    sink.on('error', onSinkError);
    sink.on('finish', onFinish);
    source.pipe(sink);
  });
}

/** write() may write less than asked (write(2)); loop until the chunk is on its way to disk. */
async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    // A write that stores nothing without an error would loop forever.
    if (bytesWritten === 0) throw new Error('The disk accepted no bytes');
    offset += bytesWritten;
  }
}

function isDestroyed(source: MessageSource): boolean {
  return (source as Partial<Readable>).destroyed === true;
}

/** Reads and discards the rest of the input so that its producer can finish. */
function drain(source: MessageSource): void {
  // A source that errors while nobody listens would crash the process.
  source.on('error', () => undefined);
  source.resume();
}
