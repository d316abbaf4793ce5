/** Reading and writing the <id>.json beside each message (`QueueRecord`, src/core/queue-record.ts). */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { queueRecordSchema, type QueueRecord } from '../core/queue-record.js';
import { writeFileDurable } from './durable-fs.js';

/** A record file exists but cannot be trusted: recovery quarantines it, the admin commands report it. */
export class InvalidRecordError extends Error {
  readonly path: string;

  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super(`${path}: ${reason}`, options);
    this.name = 'InvalidRecordError';
    this.path = path;
  }
}

export function serializeRecord(record: QueueRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** Reads and validates a record; fs errors (ENOENT...) pass through unchanged. */
export async function readRecordFile(path: string): Promise<QueueRecord> {
  return parseRecord(path, await readFile(path, 'utf8'), '.json', '');
}

/**
 * Validates the text of a record kept in the file at `path`, whose name must be the record's id
 * and `extension`; `where` says which part of the file it was ("its trailer ") in the errors.
 */
export function parseRecord(path: string, text: string, extension: '.json' | '.eml', where: string): QueueRecord {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InvalidRecordError(path, `${where}not valid JSON`, { cause: error });
  }
  const parsed = queueRecordSchema.safeParse(data);
  if (!parsed.success) throw new InvalidRecordError(path, `${where}not a queue record: ${parsed.error.message}`, { cause: parsed.error });
  // A record copied or renamed by hand would otherwise describe another message's file.
  if (`${parsed.data.id}${extension}` !== basename(path)) throw new InvalidRecordError(path, `${where}holds the id ${parsed.data.id}`);
  return parsed.data;
}

/** Validates, then replaces the file atomically and durably. */
export async function writeRecordFile(path: string, record: QueueRecord, tmpDir: string): Promise<void> {
  const valid = queueRecordSchema.parse(record);
  await writeFileDurable(path, serializeRecord(valid), { tmpDir });
}
