/**
 * A queued message's current record, wherever it is (record-trailer.ts): its `<id>.json` when
 * the record changed after the commit (a deferral, a partial delivery, a move to failed/), else
 * the first record at the end of its `<id>.eml`.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueueRecord } from '../core/queue-record.js';
import { isNotFound } from './durable-fs.js';
import { readRecordFile } from './record-file.js';
import { readRecordTrailer } from './record-trailer.js';
import { emlName, jsonName } from './spool-folders.js';

/**
 * Undefined when `dir` holds no committed message `id` (no `.json`, and no `.eml` or one that
 * does not end with its record). Rejects with `InvalidRecordError` when the record is damaged.
 */
export async function readQueuedRecord(dir: string, id: string): Promise<QueueRecord | undefined> {
  try {
    const record = await readRecordFile(join(dir, jsonName(id)));
    // A .json whose message is gone is what an interrupted removal leaves (recovery.ts).
    await stat(join(dir, emlName(id)));
    return record;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    return await readRecordTrailer(join(dir, emlName(id)));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
