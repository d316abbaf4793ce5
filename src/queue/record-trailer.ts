/**
 * A queued message's first record, kept at the end of its own file (docs/architecture.md, "One
 * file per message"): committing a message is then one file to create and fsync, where a record
 * file beside it cost a second create, fsync and unlink per message (docs/performance.md, "One
 * file per message"). A `.json` beside the file is written only when the record changes, and
 * then it is the record.
 *
 * The layout, from the start of `<id>.eml`:
 *
 *   the message          `size` bytes, as received
 *   "\n"
 *   the record           JSON on one line, L bytes
 *   "\n"
 *   the marker           "#queue-record v1 " + L as 10 decimal digits + "\n"
 *
 * A file is committed exactly when it ends with a marker whose record parses, names the file's
 * id and accounts for every byte before it. A file cut short anywhere (a crash while receiving,
 * or before the commit's fsync finished) does not, and was never acknowledged. A message's own
 * bytes cannot pass for a trailer: the record must name the queue id, which is drawn only when
 * the message arrives (queue-id.ts), and the exact size of what precedes it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { readAt } from '../core/message-file.js';
import type { QueueRecord } from '../core/queue-record.js';
import { InvalidRecordError, parseRecord } from './record-file.js';

const MARKER_PREFIX = '#queue-record v1 ';
const LENGTH_DIGITS = 10;
const MARKER_BYTES = MARKER_PREFIX.length + LENGTH_DIGITS + 1;
const MARKER = /^#queue-record v1 (\d{10})\n$/;
/** The newline before the record and the one after it. */
const SEPARATOR_BYTES = 2;
/**
 * One page: the marker and a record of a few dozen recipients in one read, so that recovery and
 * `queue list` read about as much per message as a `.json` cost them; a larger record takes a
 * second read.
 */
const FIRST_READ_BYTES = 4 * 1024;

/** The bytes appended to a message at its commit. */
export function recordTrailer(record: QueueRecord): Buffer {
  const json = JSON.stringify(record);
  // One encoding of one string: the marker counts the record's UTF-8 bytes, not its characters.
  const jsonBytes = String(Buffer.byteLength(json)).padStart(LENGTH_DIGITS, '0');
  return Buffer.from(`\n${json}\n${MARKER_PREFIX}${jsonBytes}\n`);
}

/**
 * The record at the end of `path`, or undefined when the file does not end with one (never
 * committed, or a message file of a version that kept every record in a `.json`). Rejects with
 * `InvalidRecordError` when a marker is there but what it frames is not this file's record;
 * fs errors (ENOENT...) pass through.
 */
export async function readRecordTrailer(path: string): Promise<QueueRecord | undefined> {
  const handle = await open(path, 'r');
  try {
    const fileSize = (await handle.stat()).size;
    const firstRead = Math.min(fileSize, FIRST_READ_BYTES);
    const tail = await readWhole(path, handle, fileSize - firstRead, firstRead);
    if (tail.length < MARKER_BYTES + SEPARATOR_BYTES) return undefined;
    const marker = MARKER.exec(tail.subarray(tail.length - MARKER_BYTES).toString('latin1'));
    if (marker === null || marker[1] === undefined) return undefined;
    const jsonBytes = Number(marker[1]);
    const messageSize = fileSize - MARKER_BYTES - jsonBytes - SEPARATOR_BYTES;
    if (messageSize < 0) throw new InvalidRecordError(path, `its trailer frames ${jsonBytes} bytes, more than the file holds`);
    const framed = SEPARATOR_BYTES + jsonBytes + MARKER_BYTES;
    const block = framed <= tail.length ? tail.subarray(tail.length - framed) : await readWhole(path, handle, messageSize, framed);
    if (block[0] !== 0x0a || block[jsonBytes + 1] !== 0x0a) throw new InvalidRecordError(path, 'its trailer is not framed by newlines');
    const record = parseRecord(path, block.subarray(1, jsonBytes + 1).toString('utf8'), '.eml', 'its trailer is ');
    if (record.size !== messageSize) throw new InvalidRecordError(path, `its record says ${record.size} bytes and the message before it has ${messageSize}`);
    return record;
  } finally {
    await handle.close();
  }
}

async function readWhole(path: string, handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const bytes = Buffer.alloc(length);
  // Spool files are never truncated, so only a hand could have shortened one while it was read.
  if ((await readAt(handle, bytes, position)) < length) throw new InvalidRecordError(path, 'the file ended while its trailer was read');
  return bytes;
}
