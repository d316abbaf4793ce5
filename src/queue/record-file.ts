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
  const text = await readFile(path, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InvalidRecordError(path, 'not valid JSON', { cause: error });
  }
  const parsed = queueRecordSchema.safeParse(data);
  if (!parsed.success) throw new InvalidRecordError(path, `not a queue record: ${parsed.error.message}`, { cause: parsed.error });
  // A record copied or renamed by hand would otherwise describe another message's file.
  if (`${parsed.data.id}.json` !== basename(path)) throw new InvalidRecordError(path, `holds the id ${parsed.data.id}`);
  return parsed.data;
}

/** Validates, then replaces the file atomically and durably. */
export async function writeRecordFile(path: string, record: QueueRecord, tmpDir: string): Promise<void> {
  const valid = queueRecordSchema.parse(record);
  await writeFileDurable(path, serializeRecord(valid), { tmpDir });
}
