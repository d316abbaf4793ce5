/**
 * Start-up recovery: rebuild the queue from the folders after any stop, clean or not
 * (docs/architecture.md, "Folders are states"). Each rule undoes or completes exactly one crash point:
 *
 *   tmp/*                                   an interrupted record update (or a    -> removed
 *                                           receive by a version up to 0.1.0, which wrote there)
 *   queue/X.eml without X.json              never committed                     -> removed
 *     ... and failed/X.json without its .eml  half-done `queue retry`           -> .eml moved back to failed/
 *   queue/X.json empty, beside X.eml        a crash while committing            -> both removed
 *   queue/X.json without X.eml
 *     ... and failed/X.eml present           half-done move to failed/          -> .json moved to failed/
 *     ... otherwise                          damaged                             -> quarantined
 *   queue/X.json unreadable or invalid       damaged                             -> both files quarantined
 *   queue/X.eml shorter or longer than X.json says  not whole (power cut)         -> both files quarantined
 *   queue/X.json + X.eml, and failed/X.json  `queue retry` done but not cleaned  -> failed/X.json removed
 *
 * A message is received straight into queue/X.eml and committed by creating queue/X.json beside it
 * and fsyncing both files and the folder (spool.ts); `250` follows only then. So an .eml without a
 * record, or with a record still empty (the relay stopped between creating and writing it), was
 * never acknowledged. A committed message (valid .json with its whole .eml in queue/) is never
 * removed; nothing is ever deleted that could have been acknowledged, only moved to quarantine/
 * for a person to look at.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueueRecord } from '../core/queue-record.js';
import type { Logger } from '../core/logger.js';
import { fsyncDirectory } from './durable-fs.js';
import { readRecordFile } from './record-file.js';
import { emlName, jsonName, type SpoolFolders } from './spool-folders.js';

export interface RecoveryReport {
  /** Messages waiting for delivery after recovery. */
  queued: number;
  /** Files removed because they were never acknowledged, as "tmp/<name>" or "queue/<name>". */
  removedLeftovers: string[];
  /** Ids whose files were moved to quarantine/. */
  quarantined: string[];
  /** Ids whose interrupted move between queue/ and failed/ was finished or rolled back. */
  completedMoves: string[];
}

export interface RecoveryResult {
  /** Valid queued records, oldest first. */
  records: QueueRecord[];
  report: RecoveryReport;
}

interface MessageFiles {
  eml: boolean;
  json: boolean;
}

export async function recoverSpool(folders: SpoolFolders, logger: Logger): Promise<RecoveryResult> {
  const report: RecoveryReport = { queued: 0, removedLeftovers: [], quarantined: [], completedMoves: [] };
  await removeUnacknowledged(folders, logger, report);

  const queued = await filesById(folders.queue, logger);
  const failedNames = new Set(await readdir(folders.failed));
  const records: QueueRecord[] = [];
  for (const [id, files] of queued) {
    const record = await recoverMessage(id, files, failedNames, folders, logger, report);
    if (record !== undefined) records.push(record);
  }
  // Make every move and removal above durable before the daemon starts acting on the result.
  for (const dir of [folders.tmp, folders.queue, folders.failed, folders.quarantine]) await fsyncDirectory(dir);

  records.sort(byReceivedAt);
  report.queued = records.length;
  return { records, report };
}

async function removeUnacknowledged(folders: SpoolFolders, logger: Logger, report: RecoveryReport): Promise<void> {
  for (const name of await readdir(folders.tmp)) {
    await rm(join(folders.tmp, name), { recursive: true, force: true });
    logger.warn({ file: `tmp/${name}` }, 'Removed a temporary file of an interrupted write (nothing in it was ever acknowledged)');
    report.removedLeftovers.push(`tmp/${name}`);
  }
}

/** Groups queue/ by id; leaves unknown files alone (never delete what we do not understand). */
async function filesById(dir: string, logger: Logger): Promise<Map<string, MessageFiles>> {
  const byId = new Map<string, MessageFiles>();
  for (const name of await readdir(dir)) {
    const match = /^(.+)\.(eml|json)$/.exec(name);
    if (match === null || match[1] === undefined) {
      logger.warn({ file: `queue/${name}` }, 'Unexpected file in the queue folder, left alone');
      continue;
    }
    const files = byId.get(match[1]) ?? { eml: false, json: false };
    files[match[2] as 'eml' | 'json'] = true;
    byId.set(match[1], files);
  }
  return byId;
}

async function recoverMessage(
  id: string,
  files: MessageFiles,
  failedNames: ReadonlySet<string>,
  folders: SpoolFolders,
  logger: Logger,
  report: RecoveryReport,
): Promise<QueueRecord | undefined> {
  const queueEml = join(folders.queue, emlName(id));
  const queueJson = join(folders.queue, jsonName(id));
  const failedHasEml = failedNames.has(emlName(id));
  const failedHasJson = failedNames.has(jsonName(id));

  if (!files.json) {
    if (failedHasJson && !failedHasEml) {
      await rename(queueEml, join(folders.failed, emlName(id)));
      logger.warn({ id }, 'Rolled back an interrupted queue retry: the message stays in failed/');
      report.completedMoves.push(id);
      return undefined;
    }
    await rm(queueEml, { force: true });
    logger.warn({ file: `queue/${emlName(id)}` }, 'Removed a message that was never committed (no record)');
    report.removedLeftovers.push(`queue/${emlName(id)}`);
    return undefined;
  }

  if (!files.eml) {
    if (failedHasEml) {
      // The final record was written before the .eml moved, so this .json is the newest one.
      await rename(queueJson, join(folders.failed, jsonName(id)));
      logger.warn({ id }, 'Completed an interrupted move to failed/');
      report.completedMoves.push(id);
      return undefined;
    }
    await quarantine(id, folders, logger, 'its message file is missing');
    report.quarantined.push(id);
    return undefined;
  }

  if ((await stat(queueJson)).size === 0) {
    // A record is written in one go and fsynced before 250: an empty one was never acknowledged.
    for (const path of [queueJson, queueEml]) await rm(path, { force: true });
    logger.warn({ file: `queue/${jsonName(id)}` }, 'Removed a message that was never committed (its record is empty)');
    report.removedLeftovers.push(`queue/${jsonName(id)}`, `queue/${emlName(id)}`);
    return undefined;
  }
  let record: QueueRecord;
  try {
    record = await readRecordFile(queueJson);
  } catch (error) {
    await quarantine(id, folders, logger, 'its record cannot be read', error);
    report.quarantined.push(id);
    return undefined;
  }
  const emlSize = (await stat(queueEml)).size;
  if (emlSize !== record.size) {
    // Delivering part of a message would be worse than not delivering it; a person decides.
    await quarantine(id, folders, logger, `its message file has ${emlSize} bytes and its record says ${record.size}`);
    report.quarantined.push(id);
    return undefined;
  }
  if (failedHasJson) {
    // queue retry renamed the new record into queue/ and stopped before removing the old one.
    await rm(join(folders.failed, jsonName(id)), { force: true });
    logger.warn({ id }, 'Completed an interrupted queue retry: removed the old record from failed/');
    report.completedMoves.push(id);
  }
  return record;
}

/** Moves whatever exists of a message to quarantine/, never over an earlier quarantined file. */
async function quarantine(id: string, folders: SpoolFolders, logger: Logger, reason: string, error?: unknown): Promise<void> {
  const moved: string[] = [];
  for (const name of [emlName(id), jsonName(id)]) {
    const from = join(folders.queue, name);
    if (!(await exists(from))) continue;
    const to = await freeName(folders.quarantine, name);
    await rename(from, to);
    moved.push(to);
  }
  logger.error({ id, reason, moved, err: error }, 'Quarantined a queued message that cannot be delivered; the files were kept');
}

async function freeName(dir: string, name: string): Promise<string> {
  let candidate = join(dir, name);
  for (let n = 1; await exists(candidate); n += 1) candidate = join(dir, `${name}.${n}`);
  return candidate;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function byReceivedAt(a: QueueRecord, b: QueueRecord): number {
  // toISOString() has one fixed format, so text order is time order; the id breaks ties by arrival.
  return compareText(a.receivedAt, b.receivedAt) || compareText(a.id, b.id);
}

/** Code-unit order, independent of the locale (localeCompare is not). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
