/**
 * `queue list|show|retry|delete`, served by the running daemon (so its scheduler agrees with
 * the disk) or, when no daemon runs, straight on the spool folders. One implementation for both.
 */
import type { Clock } from '../core/clock.js';
import type { QueueRecord } from '../core/queue-record.js';
import { deleteMessage, findMessage, isSafeQueueId, listQueue, retryMessage, type QueueFolder } from '../queue/index.js';
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

export class QueueCommands {
  constructor(
    private readonly dataDir: string,
    private readonly live: LiveQueue | undefined,
    private readonly clock: Clock,
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

  private async retry(id: string): Promise<QueueEntry> {
    const found = await this.find(id);
    if (found.folder === 'queue' && this.live !== undefined) {
      // The scheduler owns queued messages while the daemon runs; it persists the next outcome.
      if (!this.live.retryNow(id)) throw new Error(`Message ${id} is being delivered right now`);
      return { ...found.record, folder: 'queue' };
    }
    const record = await retryMessage(this.dataDir, id, this.clock.now());
    if (found.folder === 'failed') this.live?.enqueue(record);
    return { ...record, folder: 'queue' };
  }

  private async delete(id: string): Promise<{ id: string; deleted: true }> {
    const found = await this.find(id);
    if (found.folder === 'queue' && this.live !== undefined && !this.live.forget(id)) {
      throw new Error(`Message ${id} is being delivered right now; try again in a moment`);
    }
    await deleteMessage(this.dataDir, id);
    return { id, deleted: true };
  }

  private async find(id: string): Promise<NonNullable<Awaited<ReturnType<typeof findMessage>>>> {
    if (!isSafeQueueId(id)) throw new Error(`Not a queue id: ${JSON.stringify(id)}`);
    const found = await findMessage(this.dataDir, id);
    if (found === undefined) throw new Error(`No message ${id} in the queue or in failed/`);
    return found;
  }
}
