/**
 * Start-up recovery: rebuild the queue from the folders after any stop, clean or not
 * (docs/architecture.md, "Folders are states"). Each rule undoes or completes exactly one crash point:
 *
 *   tmp/*                                   an interrupted record update (or a    -> removed
 *                                           receive by a version up to 0.1.0, which wrote there)
 *   queue/X.eml without X.json
 *     ... and failed/X.json without its .eml  half-done `queue retry`           -> .eml moved back to failed/
 *     ... not ending with its record         never committed                     -> removed
 *     ... ending with a damaged record       damaged                             -> quarantined
 *   queue/X.json empty, beside X.eml        a crash while a two-file spool        -> as if there were no X.json
 *                                           committed (it created the .json)
 *   queue/X.json without X.eml
 *     ... and failed/X.eml present           half-done move to failed/          -> .json moved to failed/
 *     ... otherwise                          interrupted removal                 -> removed
 *   queue/X.json unreadable or invalid       damaged                             -> both files quarantined
 *   queue/X.eml shorter or longer than X.json says  not whole (power cut)         -> both files quarantined
 *   queue/X.json + X.eml, and failed/X.json  `queue retry` done but not cleaned  -> failed/X.json removed
 *   failed/X.json, no X.eml in either folder  interrupted `queue delete`         -> removed
 *
 * A message is received straight into queue/X.eml and committed by writing its first record at
 * the file's end and fsyncing the file and the folder (spool.ts, record-trailer.ts); `250`
 * follows only then. So an .eml that does not end with its record was never acknowledged. A
 * changed record goes to X.json, which is then the record; a delivered message loses its .eml
 * first (spool.ts), so a .json alone is what an interrupted removal leaves. Two-file spools,
 * written before one file per message (docs/architecture.md), kept every record in a .json and
 * the .eml held the message alone; they recover by the same rules. A committed message is never
 * removed; nothing is ever deleted that could have been acknowledged, only moved to quarantine/
 * for a person to look at.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { QueueRecord } from '../core/queue-record.js';
import type { Logger } from '../core/logger.js';
import { fsyncDirectory } from './durable-fs.js';
import { InvalidRecordError, readRecordFile } from './record-file.js';
import { readRecordTrailer } from './record-trailer.js';
import { emlName, jsonName, type SpoolFolders } from './spool-folders.js';

export interface RecoveryReport {
  /** Messages waiting for delivery after recovery. */
  queued: number;
  /** Files removed because they were never acknowledged or were left by an interrupted removal, as "tmp/<name>", "queue/<name>" or "failed/<name>". */
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
  await removeInterruptedFailedDeletes(folders, new Set(queued.keys()), failedNames, logger, report);
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

/**
 * `queue delete` of a failed message removes its .eml first, as the spool does (queue-admin.ts):
 * a failed/X.json with no X.eml in either folder is what a crash in between leaves.
 */
async function removeInterruptedFailedDeletes(
  folders: SpoolFolders,
  queuedIds: ReadonlySet<string>,
  failedNames: ReadonlySet<string>,
  logger: Logger,
  report: RecoveryReport,
): Promise<void> {
  for (const name of failedNames) {
    const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : undefined;
    if (id === undefined || failedNames.has(emlName(id)) || queuedIds.has(id)) continue;
    await rm(join(folders.failed, name), { force: true });
    logger.warn({ file: `failed/${name}` }, 'Removed the record of a failed message whose deletion was interrupted');
    report.removedLeftovers.push(`failed/${name}`);
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

  let json = files.json;
  if (json && files.eml && (await stat(queueJson)).size === 0) {
    // A two-file spool created the .json at the commit, so a crash could leave it empty: no record.
    await rm(queueJson, { force: true });
    logger.warn({ file: `queue/${jsonName(id)}` }, 'Removed an empty record left by a commit of a two-file spool that was cut short');
    report.removedLeftovers.push(`queue/${jsonName(id)}`);
    json = false;
  }
  if (!json) {
    if (failedHasJson && !failedHasEml) {
      // queue/X.eml still ends with its first record: this rule comes before that one counts.
      await rename(queueEml, join(folders.failed, emlName(id)));
      logger.warn({ id }, 'Rolled back an interrupted queue retry: the message stays in failed/');
      report.completedMoves.push(id);
      return undefined;
    }
    return recoverFromTrailer(id, folders, logger, report);
  }

  if (!files.eml) {
    if (failedHasEml) {
      // The final record was written before the .eml moved, so this .json is the newest one.
      await rename(queueJson, join(folders.failed, jsonName(id)));
      logger.warn({ id }, 'Completed an interrupted move to failed/');
      report.completedMoves.push(id);
      return undefined;
    }
    await rm(queueJson, { force: true });
    logger.warn({ file: `queue/${jsonName(id)}` }, 'Removed the record of a message whose removal was interrupted (its message file was gone)');
    report.removedLeftovers.push(`queue/${jsonName(id)}`);
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
  const mismatch = await sizeMismatch(queueEml, record);
  if (mismatch !== undefined) {
    // Delivering part of a message would be worse than not delivering it; a person decides.
    await quarantine(id, folders, logger, mismatch);
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

/** An .eml without a usable .json: committed if it ends with its record, else never acknowledged. */
async function recoverFromTrailer(id: string, folders: SpoolFolders, logger: Logger, report: RecoveryReport): Promise<QueueRecord | undefined> {
  const queueEml = join(folders.queue, emlName(id));
  let record: QueueRecord | undefined;
  try {
    record = await readRecordTrailer(queueEml);
  } catch (error) {
    if (!(error instanceof InvalidRecordError)) throw error;
    await quarantine(id, folders, logger, 'the record at the end of its message file cannot be read', error);
    report.quarantined.push(id);
    return undefined;
  }
  if (record !== undefined) return record;
  await rm(queueEml, { force: true });
  logger.warn({ file: `queue/${emlName(id)}` }, 'Removed a message that was never committed (no record)');
  report.removedLeftovers.push(`queue/${emlName(id)}`);
  return undefined;
}

/**
 * Why the .eml cannot be the message `record` describes, or undefined when it can: it holds the
 * message alone (a two-file spool) or the message followed by its first record.
 */
async function sizeMismatch(queueEml: string, record: QueueRecord): Promise<string | undefined> {
  const emlSize = (await stat(queueEml)).size;
  if (emlSize === record.size) return undefined;
  const first = await readRecordTrailer(queueEml).catch((error: unknown) => {
    if (error instanceof InvalidRecordError) return undefined;
    throw error;
  });
  if (first !== undefined && first.size === record.size) return undefined;
  return `its message file has ${emlSize} bytes and its record says ${record.size}`;
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
