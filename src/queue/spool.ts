/**
 * The durable spool: a message is committed, and only then may the client get `250`, when its
 * .eml in queue/ ends with its record (record-trailer.ts) and the file and queue/ itself have
 * been fsynced (Postfix and Haraka discipline; docs/architecture.md, "Queue, not pass-through"
 * and "One file per message"). A `.json` beside it is written only when the record changes.
 * Intake's files are written, committed and removed on the spool I/O thread (spool-io.ts).
 *
 * The spool keeps no index in memory: receiving costs the same whatever the queue's size, and
 * the folders stay the single source of truth.
 */
import { Readable } from 'node:stream';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MessageFile } from '../core/message-file.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { SpooledDraft } from '../core/spool-contracts.js';
import { DIRECTORY_FSYNC, fsyncDirectory, moveDurable, PRIVATE_FILE_MODE } from './durable-fs.js';
import { writeMessageFile, MessageSourceError, type MessageSource } from './message-file.js';
import { buildRecord, type NewRecordFields } from './new-record.js';
import { newQueueId } from './queue-id.js';
import { writeRecordFile } from './record-file.js';
import { recordTrailer } from './record-trailer.js';
import { recoverSpool, type RecoveryReport } from './recovery.js';
import type { SpoolFileWriter } from './spool-file-writer.js';
import { SpoolIo } from './spool-io.js';
import { spoolClosed, storeFailed, transferInterrupted } from './spool-errors.js';
import { assertWritable, createSpoolFolders, emlName, jsonName, spoolFolders, type SpoolFolders } from './spool-folders.js';

export type { NewRecordFields, SpooledDraft } from '../core/spool-contracts.js';
export type { RecoveryReport } from './recovery.js';

/**
 * How long the removal of a delivered message whose record changed (it has a .json) waits for
 * a commit's fsync of queue/ to share before it starts one itself; a message without one is
 * gone with its unlink. A crash in that time can only mean a second delivery (at-least-once),
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
  /** Writes, commits and removals of queue/ files; one fsync of queue/ per batch of them. */
  private readonly io: SpoolIo;

  private constructor(
    private readonly folders: SpoolFolders,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly newId: (now: number) => string,
  ) {
    this.io = new SpoolIo({
      folder: DIRECTORY_FSYNC ? folders.queue : undefined,
      fileMode: PRIVATE_FILE_MODE,
      removalWaitMs: REMOVAL_FSYNC_WAIT_MS,
    });
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
   * Streams the message to queue/<id>.eml (an ordinary one goes with its commit). Never holds a
   * large message in memory. Until its record is at its end the file is not part of the queue.
   * Rejects with 451 4.3.0 (cause: the fs error) when the disk fails (a message of ordinary size
   * meets the disk only at its commit, which rejects the same way), with 451 4.4.2 (cause:
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

  /** Writes queue/<id>.json, atomically and durably: from now on it is the record. */
  async update(record: QueueRecord): Promise<void> {
    await this.track(this.updateNow(record));
  }

  /** Delivered: deletes the .eml (un-commit), then the .json if the record changed. */
  async remove(id: string): Promise<void> {
    await this.track(this.removeNow(id));
  }

  /** Writes the final record, then moves .eml and then .json into failed/. */
  async moveToFailed(record: QueueRecord): Promise<void> {
    await this.track(this.moveToFailedNow(record));
  }

  /** The bytes of a queued message in queue/<id>.eml (its record follows them there). */
  messageFile(record: Pick<QueueRecord, 'id' | 'size'>): MessageFile {
    return { path: this.messagePath(record.id), size: record.size };
  }

  /** queue/<id>.eml. */
  messagePath(id: string): string {
    return join(this.folders.queue, emlName(id));
  }

  /** Refuses new messages and waits for the operations under way to finish. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.io.close();
  }

  private async receiveNow(message: MessageSource): Promise<SpooledDraft> {
    const id = this.newId(this.clock.now());
    const file = this.io.create(this.messagePath(id));
    let size: number;
    try {
      size = await writeMessageFile(message, file);
    } catch (error) {
      if (error instanceof MessageSourceError) {
        this.logger.info({ id, err: error.cause }, 'Message stream broke before its end; nothing stored');
        throw transferInterrupted(error);
      }
      this.logger.error({ id, err: error }, 'Could not write a message to the spool');
      throw storeFailed(error);
    }
    return this.draft(id, file, size);
  }

  private draft(id: string, file: SpoolFileWriter, size: number): SpooledDraft {
    let state: 'open' | 'committing' | 'done' = 'open';
    return {
      id,
      size,
      commit: async (fields) => {
        if (state !== 'open') throw new Error(`Message ${id} was already committed or discarded`);
        state = 'committing';
        try {
          return await this.track(this.commitNow(id, file, size, fields));
        } finally {
          state = 'done';
        }
      },
      discard: async () => {
        // After a commit the files belong to the queue; discarding them would lose a message.
        if (state !== 'open') return;
        state = 'done';
        await file.abort();
      },
    };
  }

  private async commitNow(id: string, file: SpoolFileWriter, size: number, fields: NewRecordFields): Promise<QueueRecord> {
    try {
      const record = buildRecord(id, size, fields, this.clock.now());
      // One file and one round of fsyncs before 250, as Postfix has (docs/performance.md, "One
      // file per message"): the record goes at the end of the .eml, and the fsyncs of the file
      // and of queue/ (its new name) run together. Only when both have finished is the message
      // committed and acknowledged. A crash before that acknowledged nothing, and recovery tells
      // it apart (recovery.ts): the file does not end with its record. A failed commit removes
      // the file (spool-io-thread.ts).
      await file.commit(recordTrailer(record));
      this.logger.debug({ id, size, account: record.account, recipients: record.recipients.length }, 'Message committed');
      return record;
    } catch (error) {
      // Not acknowledged: the client will send it again.
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
    // The message first: it holds the first record, so until its removal is durable a newer
    // .json must stay, and recovery removes a .json left alone (recovery.ts). That fsync of
    // queue/ is the next commit's (spool-io-thread.ts); a message never updated needs none.
    await this.io.remove(join(this.folders.queue, emlName(id)), join(this.folders.queue, jsonName(id)));
  }

  private async moveToFailedNow(record: QueueRecord): Promise<void> {
    const { id } = record;
    await this.updateNow(record);
    // .eml first: a crash between the two moves leaves queue/X.json beside failed/X.eml, which
    // recovery recognises and completes.
    await moveDurable(join(this.folders.queue, emlName(id)), join(this.folders.failed, emlName(id)));
    await moveDurable(join(this.folders.queue, jsonName(id)), join(this.folders.failed, jsonName(id)));
    await fsyncDirectory(this.folders.queue);
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

function summary(report: RecoveryReport): Record<string, number> {
  return {
    queued: report.queued,
    removedLeftovers: report.removedLeftovers.length,
    quarantined: report.quarantined.length,
    completedMoves: report.completedMoves.length,
  };
}
