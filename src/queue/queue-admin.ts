/**
 * The `queue list|show|retry|delete` commands, working on the folders directly: used when the
 * daemon is not running, and by the daemon itself for the same commands (Postfix's postqueue
 * model: postqueue(1), https://www.postfix.org/postqueue.1.html).
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueueRecord } from '../core/queue-record.js';
import { fsyncDirectory, isNotFound, moveDurable, writeFileSynced } from './durable-fs.js';
import { isSafeQueueId } from './queue-id.js';
import { readQueuedRecord } from './queued-record.js';
import { InvalidRecordError, serializeRecord, writeRecordFile } from './record-file.js';
import { compareText } from './recovery.js';
import { emlName, jsonName, spoolFolders } from './spool-folders.js';

export type QueueFolder = 'queue' | 'failed';

export interface FoundMessage {
  record: QueueRecord;
  folder: QueueFolder;
  /** The message file: its first `record.size` bytes are the message, its record follows. */
  emlPath: string;
}

/** No message with this id in queue/ or failed/. */
export class MessageNotFoundError extends Error {
  readonly id: string;

  constructor(id: string) {
    super(`No message ${id} in the queue or among the failed messages`);
    this.name = 'MessageNotFoundError';
    this.id = id;
  }
}

/** Records in a folder, oldest first; files that cannot be read are skipped (recovery quarantines them). */
export async function listQueue(dataDir: string, folder: QueueFolder): Promise<QueueRecord[]> {
  const dir = spoolFolders(dataDir)[folder];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const records: QueueRecord[] = [];
  // Every committed message has its .eml; one being received or removed meanwhile has no record.
  for (const id of names.filter((n) => n.endsWith('.eml')).map((n) => n.slice(0, -'.eml'.length))) {
    try {
      const record = await readQueuedRecord(dir, id);
      if (record !== undefined) records.push(record);
    } catch (error) {
      // Damaged: not a message to list (recovery quarantines it).
      if (error instanceof InvalidRecordError) continue;
      throw error;
    }
  }
  return records.sort((a, b) => compareText(a.receivedAt, b.receivedAt) || compareText(a.id, b.id));
}

/** Looks in queue/ then failed/. An id that is not a safe file name is simply not found. */
export async function findMessage(dataDir: string, id: string): Promise<FoundMessage | undefined> {
  if (!isSafeQueueId(id)) return undefined;
  const folders = spoolFolders(dataDir);
  for (const folder of ['queue', 'failed'] as const) {
    const record = await readQueuedRecord(folders[folder], id);
    if (record !== undefined) return { record, folder, emlPath: join(folders[folder], emlName(id)) };
  }
  return undefined;
}

/**
 * In queue/: due now. In failed/: every recipient not delivered is pending again, attempts start
 * from 0, and the message goes back into queue/.
 */
export async function retryMessage(dataDir: string, id: string, now: Date | number): Promise<QueueRecord> {
  const found = await findMessage(dataDir, id);
  if (found === undefined) throw new MessageNotFoundError(id);
  const folders = spoolFolders(dataDir);
  const at = new Date(now).toISOString();

  if (found.folder === 'queue') {
    const record: QueueRecord = { ...found.record, nextAttemptAt: at };
    await writeRecordFile(join(folders.queue, jsonName(id)), record, folders.tmp);
    return record;
  }

  const recipients = found.record.recipients.map((r) => (r.status === 'delivered' ? r : { ...r, status: 'pending' as const }));
  if (!recipients.some((r) => r.status === 'pending')) throw new Error(`Message ${id} was delivered to every recipient: nothing to retry`);
  // A fresh lifetime, or the retried message would expire at once and bounce a second time.
  const record: QueueRecord = { ...found.record, recipients, attempts: 0, nextAttemptAt: at, lifetimeStartsAt: at };

  // Crash-safe order (see recovery.ts): new record ready in tmp/; .eml into queue/ (a crash now
  // is rolled back: failed/X.json still describes it); new .json into queue/ (committed); old
  // failed/X.json removed (a crash before that is cleaned up by recovery).
  const tmpJson = join(folders.tmp, `${jsonName(id)}.retry`);
  await writeFileSynced(tmpJson, serializeRecord(record));
  try {
    await moveDurable(join(folders.failed, emlName(id)), join(folders.queue, emlName(id)));
    await moveDurable(tmpJson, join(folders.queue, jsonName(id)));
  } catch (error) {
    await rm(tmpJson, { force: true }).catch(() => undefined);
    throw error;
  }
  await rm(join(folders.failed, jsonName(id)), { force: true });
  await fsyncDirectory(folders.failed);
  return record;
}

/**
 * Removes a message from queue/ or failed/ in the spool's order (spool.ts, `remove`): the .eml
 * first, which holds the first record, then the .json once that removal is durable. A crash in
 * between leaves a .json alone, which recovery removes.
 */
export async function deleteMessage(dataDir: string, id: string): Promise<void> {
  const found = await findMessage(dataDir, id);
  if (found === undefined) throw new MessageNotFoundError(id);
  const dir = spoolFolders(dataDir)[found.folder];
  await rm(join(dir, emlName(id)), { force: true });
  await fsyncDirectory(dir);
  await rm(join(dir, jsonName(id)), { force: true });
}
