/**
 * Where a queued message's bytes are, declared once for the spool that writes them and the
 * senders that read them: the first `size` bytes of the file at `path`. Since the spool keeps a
 * message's first queue record at the end of its file (docs/architecture.md, "One file per
 * message"), a reader that went on to the end of the file would send that record as part of the
 * message, so every reader stops at `size`.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

export interface MessageFile {
  readonly path: string;
  /** The message's length in bytes: the record's `size`. */
  readonly size: number;
}

/** The message as a stream of its bytes and no further. */
export function readMessageStream(file: MessageFile, options: { highWaterMark?: number } = {}): Readable {
  // createReadStream's `end` is inclusive, so an empty message cannot be expressed with it.
  if (file.size === 0) return Readable.from([]);
  return createReadStream(file.path, { ...options, start: 0, end: file.size - 1 });
}

/** The whole message in memory, for readers that need it at once (a Graph MIME send). */
export async function readMessage(file: MessageFile): Promise<Buffer> {
  const handle = await open(file.path, 'r');
  try {
    const bytes = Buffer.alloc(file.size);
    const read = await readAt(handle, bytes, 0);
    if (read < file.size) throw new Error(`${file.path} ends after ${read} of its ${file.size} bytes`);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Reads into `into` from `position` until it is full or the file ends; returns the bytes read. */
export async function readAt(handle: FileHandle, into: Buffer, position: number): Promise<number> {
  let offset = 0;
  while (offset < into.length) {
    const { bytesRead } = await handle.read(into, offset, into.length - offset, position + offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  return offset;
}
