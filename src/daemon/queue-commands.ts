/**
 * `queue list|show|retry|delete`, served by the running daemon (so its scheduler agrees with
 * the disk) or, when no daemon runs, straight on the spool folders. One implementation for both.
 */
import { userInfo } from 'node:os';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { appendAudit, deleteMessage, findMessage, isSafeQueueId, listQueue, retryMessage, type AuditEntry, type QueueFolder } from '../queue/index.js';
import type { ControlRequest } from './control-protocol.js';

/** What the daemon's scheduler must do for these commands; absent when no daemon runs. */
export interface LiveQueue {
  /** When the message will really go (later than now while the account is paused or held); undefined when in flight. */
  retryNow(id: string): { readonly at: string; readonly waitingFor?: string | undefined } | undefined;
  forget(id: string): boolean;
  enqueue(record: QueueRecord): void;
}

export type QueueRequest = Extract<ControlRequest, { command: `queue.${string}` }>;

export interface QueueEntry extends QueueRecord {
  readonly folder: QueueFolder;
}

/** What `queue retry` answers: the message, and when it will really go (later while its account is paused or held). */
export interface RetryEntry extends QueueEntry {
  readonly willGoAt: string;
  readonly waitingFor?: string | undefined;
}

export class QueueCommands {
  constructor(
    private readonly dataDir: string,
    private readonly live: LiveQueue | undefined,
    private readonly clock: Clock,
    /** The daemon's log, which gets the audit line too. */
    private readonly logger?: Logger,
  ) {}

  async handle(request: ControlRequest): Promise<unknown> {
    switch (request.command) {
      case 'queue.list':
        return (await listQueue(this.dataDir, request.folder)).map((record) => ({ ...record, folder: request.folder }));
      case 'queue.show':
        return this.show(request.id);
      case 'queue.retry':
        return this.retry(request.id);
      case 'queue.delete':
        return this.delete(request.id);
      default:
        throw new Error(`not a queue command: ${request.command}`);
    }
  }

  private async show(id: string): Promise<QueueEntry & { emlPath: string }> {
    const found = await this.find(id);
    return { ...found.record, folder: found.folder, emlPath: found.emlPath };
  }

  private async retry(id: string): Promise<RetryEntry> {
    const found = await this.find(id);
    const now = new Date(this.clock.now()).toISOString();
    if (found.folder === 'queue' && this.live !== undefined) {
      // The scheduler owns queued messages while the daemon runs; it persists the next outcome.
      const plan = this.live.retryNow(id);
      if (plan === undefined) throw new Error(`Message ${id} is being delivered right now`);
      await this.audit('queue.retry', found.record, found.folder);
      return { ...found.record, folder: 'queue', willGoAt: plan.at, ...(plan.waitingFor === undefined ? {} : { waitingFor: plan.waitingFor }) };
    }
    const record = await retryMessage(this.dataDir, id, this.clock.now());
    await this.audit('queue.retry', record, found.folder);
    if (found.folder === 'failed' && this.live !== undefined) {
      this.live.enqueue(record);
      return { ...record, folder: 'queue', willGoAt: now };
    }
    return { ...record, folder: 'queue', willGoAt: now, ...(this.live === undefined ? { waitingFor: 'the relay is not running: it goes when the relay starts' } : {}) };
  }

  private async delete(id: string): Promise<{ id: string; deleted: true }> {
    const found = await this.find(id);
    if (found.folder === 'queue' && this.live !== undefined && !this.live.forget(id)) {
      throw new Error(`Message ${id} is being delivered right now; try again in a moment`);
    }
    await deleteMessage(this.dataDir, id);
    await this.audit('queue.delete', found.record, found.folder);
    return { id, deleted: true };
  }

  /** Who deleted or retried which message, when: a line in audit.log and in the daemon's log. */
  private async audit(action: AuditEntry['action'], record: QueueRecord, folder: QueueFolder): Promise<void> {
    const entry: AuditEntry = {
      at: new Date(this.clock.now()).toISOString(),
      action,
      id: record.id,
      account: record.account,
      folder,
      by: `${userInfo().username} (${this.live === undefined ? 'directly on the spool' : 'through the running relay'})`,
    };
    await appendAudit(this.dataDir, entry);
    this.logger?.info({ audit: true, ...entry }, action === 'queue.delete' ? 'queued message deleted by an operator' : 'queued message retried by an operator');
  }

  private async find(id: string): Promise<NonNullable<Awaited<ReturnType<typeof findMessage>>>> {
    if (!isSafeQueueId(id)) throw new Error(`Not a queue id: ${JSON.stringify(id)}`);
    const found = await findMessage(this.dataDir, id);
    if (found === undefined) throw new Error(`No message ${id} in the queue or in failed/`);
    return found;
  }
}
