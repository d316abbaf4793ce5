/**
 * The durable spool: a message is committed, and only then may the client get `250`, when its
 * .eml and its .json are in queue/ and both files and queue/ itself have been fsynced (Postfix
 * and Haraka discipline; docs/architecture.md, "Queue, not pass-through").
 *
 * The spool keeps no index in memory: receiving costs the same whatever the queue's size, and
 * the folders stay the single source of truth.
 */
import { Readable } from 'node:stream';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { SpooledDraft } from '../core/spool-contracts.js';
import { DirectorySync } from './directory-sync.js';
import { createFileSyncing, moveDurable, removeFile } from './durable-fs.js';
import { writeMessageFile, MessageSourceError, type MessageSource, type WrittenMessage } from './message-file.js';
import { buildRecord, type NewRecordFields } from './new-record.js';
import { newQueueId } from './queue-id.js';
import { serializeRecord, writeRecordFile } from './record-file.js';
import { recoverSpool, type RecoveryReport } from './recovery.js';
import { spoolClosed, storeFailed, transferInterrupted } from './spool-errors.js';
import { assertWritable, createSpoolFolders, emlName, jsonName, spoolFolders, type SpoolFolders } from './spool-folders.js';

export type { NewRecordFields, SpooledDraft } from '../core/spool-contracts.js';
export type { RecoveryReport } from './recovery.js';

/**
 * How long a delivered message's removal waits for a commit's fsync of queue/ to share before
 * it starts one itself. A crash in that time can only mean a second delivery (at-least-once),
 * as a crash just before the removal would.
 */
export const REMOVAL_FSYNC_WAIT_MS = 20;

export interface SpoolOptions {
  logger: Logger;
  clock?: Clock;
  /** Id generator; tests use it to place a file where the next message will be written. */
  newId?: (now: number) => string;
}

export class Spool {
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** fsync of queue/, shared by commits and removals that overlap (directory-sync.ts). */
  private readonly queueSync: DirectorySync;

  private constructor(
    private readonly folders: SpoolFolders,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly newId: (now: number) => string,
  ) {
    this.queueSync = new DirectorySync(folders.queue);
  }

  /** Creates the folders, recovers from any earlier stop and returns the queued records, oldest first. */
  static async open(
    dataDir: string,
    options: SpoolOptions,
  ): Promise<{ spool: Spool; records: QueueRecord[]; report: RecoveryReport }> {
    const folders = spoolFolders(dataDir);
    await createSpoolFolders(folders);
    const { records, report } = await recoverSpool(folders, options.logger);
    for (const dir of [folders.tmp, folders.queue, folders.failed]) await assertWritable(dir);
    options.logger.info({ spool: folders.root, ...summary(report) }, 'Spool opened');
    const spool = new Spool(folders, options.logger, options.clock ?? systemClock, options.newId ?? newQueueId);
    return { spool, records, report };
  }

  /**
   * Streams the message to queue/<id>.eml and starts its fsync (commit waits for it). Never holds
   * the whole message in memory. Without its record the file is not part of the queue yet.
   * Rejects with 451 4.3.0 (cause: the fs error) when the disk fails, with 451 4.4.2 (cause:
   * `MessageSourceError`) when the input breaks; either way the partial file is removed.
   */
  receive(message: MessageSource | Readable): Promise<SpooledDraft> {
    if (this.closed) return Promise.reject(spoolClosed());
    return this.track(this.receiveNow(message));
  }

  /** For messages the relay generates itself (delivery status notifications): receive + commit. */
  async enqueueBuffer(raw: Buffer, fields: NewRecordFields): Promise<QueueRecord> {
    const draft = await this.receive(Readable.from([raw]));
    return draft.commit(fields);
  }

  /** Replaces queue/<id>.json atomically and durably. */
  async update(record: QueueRecord): Promise<void> {
    await this.track(this.updateNow(record));
  }

  /** Delivered: deletes the .json first (un-commit), then the .eml. */
  async remove(id: string): Promise<void> {
    await this.track(this.removeNow(id));
  }

  /** Writes the final record, then moves .eml and then .json into failed/. */
  async moveToFailed(record: QueueRecord): Promise<void> {
    await this.track(this.moveToFailedNow(record));
  }

  /** queue/<id>.eml, for reading the message to deliver. */
  messagePath(id: string): string {
    return join(this.folders.queue, emlName(id));
  }

  /** Refuses new messages and waits for the operations under way to finish. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.queueSync.close();
  }

  private async receiveNow(message: MessageSource): Promise<SpooledDraft> {
    const id = this.newId(this.clock.now());
    let written: WrittenMessage;
    try {
      written = await writeMessageFile(message, this.messagePath(id));
    } catch (error) {
      if (error instanceof MessageSourceError) {
        this.logger.info({ id, err: error.cause }, 'Message stream broke before its end; nothing stored');
        throw transferInterrupted(error);
      }
      this.logger.error({ id, err: error }, 'Could not write a message to the spool');
      throw storeFailed(error);
    }
    return this.draft(id, written);
  }

  private draft(id: string, { size, synced }: WrittenMessage): SpooledDraft {
    let state: 'open' | 'committing' | 'done' = 'open';
    return {
      id,
      size,
      commit: async (fields) => {
        if (state !== 'open') throw new Error(`Message ${id} was already committed or discarded`);
        state = 'committing';
        try {
          return await this.track(this.commitNow(id, { size, synced }, fields));
        } finally {
          state = 'done';
        }
      },
      discard: async () => {
        // After a commit the files belong to the queue; discarding them would lose a message.
        if (state !== 'open') return;
        state = 'done';
        // Windows cannot remove a file that is still open; the fsync's handle closes when it ends.
        await synced.catch(() => undefined);
        await removeFile(this.messagePath(id));
      },
    };
  }

  private async commitNow(id: string, { size, synced }: WrittenMessage, fields: NewRecordFields): Promise<QueueRecord> {
    const queueEml = this.messagePath(id);
    const queueJson = join(this.folders.queue, jsonName(id));
    // Created exclusively (O_EXCL): if that fails, the name belongs to someone else and stays.
    let recordCreated = false;
    try {
      const record = buildRecord(id, size, fields, this.clock.now());
      // One round of fsyncs before 250, as Postfix has (docs/performance.md): the .eml was made
      // in queue/ when DATA began and its fsync has been under way since DATA ended; the record
      // is made there under its final name, and its fsync and the folder's (both new names) run
      // beside it. Only when all three have finished is the message committed and acknowledged.
      // A crash before that acknowledged nothing, and recovery tells it apart (recovery.ts): an
      // .eml without a record, an empty record, or an .eml shorter than its record says.
      const recordFile = await createFileSyncing(queueJson, serializeRecord(record));
      recordCreated = true;
      // Every fsync settles before a failure is handled, so no handle is open when it is cleaned up.
      const failure = (await Promise.allSettled([synced, recordFile.synced, this.queueSync.request()])).find(isRejected);
      if (failure !== undefined) throw failure.reason;
      this.logger.debug({ id, size, account: record.account, recipients: record.recipients.length }, 'Message committed');
      return record;
    } catch (error) {
      // Not acknowledged, so nothing may stay: the client will send it again.
      await synced.catch(() => undefined);
      for (const path of recordCreated ? [queueJson, queueEml] : [queueEml]) await removeFile(path).catch(() => undefined);
      this.logger.error({ id, err: error }, 'Could not commit a message to the spool');
      throw storeFailed(error);
    }
  }

  private async updateNow(record: QueueRecord): Promise<void> {
    // Writing the record of a message that is gone would resurrect it as a damaged entry.
    await stat(this.messagePath(record.id));
    await writeRecordFile(join(this.folders.queue, jsonName(record.id)), record, this.folders.tmp);
  }

  private async removeNow(id: string): Promise<void> {
    await removeFile(join(this.folders.queue, jsonName(id)));
    // Once the record is gone for good, a crash can only leave an .eml that recovery removes.
    // Nobody waits for this fsync: it shares the next commit's (directory-sync.ts).
    await this.queueSync.requestWithin(REMOVAL_FSYNC_WAIT_MS);
    await removeFile(join(this.folders.queue, emlName(id)));
  }

  private async moveToFailedNow(record: QueueRecord): Promise<void> {
    const { id } = record;
    await this.updateNow(record);
    // .eml first: a crash between the two moves leaves queue/X.json beside failed/X.eml, which
    // recovery recognises and completes.
    await moveDurable(join(this.folders.queue, emlName(id)), join(this.folders.failed, emlName(id)));
    await moveDurable(join(this.folders.queue, jsonName(id)), join(this.folders.failed, jsonName(id)));
    await this.queueSync.request();
    this.logger.info({ id }, 'Message moved to failed/');
  }

  private track<T>(operation: Promise<T>): Promise<T> {
    this.inFlight.add(operation);
    const forget = (): void => {
      this.inFlight.delete(operation);
    };
    operation.then(forget, forget);
    return operation;
  }
}

function isRejected(result: PromiseSettledResult<unknown>): result is PromiseRejectedResult {
  return result.status === 'rejected';
}

function summary(report: RecoveryReport): Record<string, number> {
  return {
    queued: report.queued,
    removedLeftovers: report.removedLeftovers.length,
    quarantined: report.quarantined.length,
    completedMoves: report.completedMoves.length,
  };
}
