/**
 * Streams a message to its file without holding a large one in memory, and tells apart the two
 * ways it can fail: the sender's stream broke (client gone) or the disk refused (full, I/O
 * error). The file is written by the spool I/O thread (spool-io.ts); a message of ordinary size
 * reaches it only with its commit.
 *
 * On a disk failure the rest of the input is drained, not destroyed: smtp-server reads the
 * message from the same parser as the commands, and it answers only when the DATA stream
 * ends (smtp-connection.js handler_DATA). Destroying it mid-message would leave the client
 * waiting, or the rest of the message read as commands.
 */
import { Writable, type Readable } from 'node:stream';
import { transientBufferRelease } from '../core/transient-buffers.js';
import type { SpoolFileWriter } from './spool-file-writer.js';

/** The input stream failed or closed before its end. */
export class MessageSourceError extends Error {
  constructor(cause: unknown) {
    super('The message stream ended before the message was complete', { cause });
    this.name = 'MessageSourceError';
  }
}

/** Fits `NodeJS.ReadableStream` and `stream.Readable` alike. */
export type MessageSource = NodeJS.ReadableStream;

/**
 * Passes `source` to `file`; resolves with the size once every byte is handed over, for the
 * caller to commit. Rejects with `MessageSourceError` when the input fails, with the fs error
 * when the disk does; either way the file is dropped.
 */
export async function writeMessageFile(source: MessageSource, file: SpoolFileWriter): Promise<number> {
  try {
    return await pump(source, file);
  } catch (error) {
    await file.abort().catch(() => undefined);
    throw error;
  }
}

function pump(source: MessageSource, file: SpoolFileWriter): Promise<number> {
  let written = 0;
  const release = transientBufferRelease();
  const sink = new Writable({
    // Backpressure keeps at most this much (plus the source's own buffer) in memory.
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      release(chunk.length);
      const caughtUp = file.write(chunk);
      if (caughtUp === undefined) done();
      else caughtUp.then(() => done(), done);
    },
    // A message large enough to stream is all on disk before the caller commits it.
    final(done) {
      const caughtUp = file.end();
      if (caughtUp === undefined) done();
      else caughtUp.then(() => done(), done);
    },
  });

  return new Promise<number>((resolve, reject) => {
    // A client gone before the first byte: its 'close' has been emitted already and would
    // never reach the listeners below.
    if (isDestroyed(source)) {
      reject(new MessageSourceError(new Error('The input stream was closed before it could be read')));
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

function isDestroyed(source: MessageSource): boolean {
  return (source as Partial<Readable>).destroyed === true;
}

/** Reads and discards the rest of the input so that its producer can finish. */
function drain(source: MessageSource): void {
  // A source that errors while nobody listens would crash the process.
  source.on('error', () => undefined);
  source.resume();
}
