/**
 * The message half of an outcome, with its I/O: defer (count the attempt, or give up with 4.4.7
 * after the queue lifetime), finish (remove a delivered message, or move it to failed/ and send
 * its sender ONE RFC 3464 DSN, never for a DSN or notice), each step persisted before the next.
 */
import type { Clock } from '../core/clock.js';
import { EXPIRED_STATUS } from '../core/conditions/index.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { DeliveryObserver } from '../core/delivery-contracts.js';
import type { Logger } from '../core/logger.js';
import type { QueueRecord, RecordedReply } from '../core/queue-record.js';
import type { DeliveryStore } from './delivery-store.js';
import { composeDsn, readHeaderBlock } from './dsn.js';
import type { UpstreamReply } from './message-sender.js';
import { oneLine, recordedReply } from './recipient-outcome.js';
import { recordedCondition, type Classification } from './reply-classification.js';
import { RetrySchedule } from './retry-schedule.js';

/** The latest persisted version of a record being worked on, so a store failure never forgets a delivered recipient. */
export interface Current {
  record: QueueRecord;
}

export interface MessageOutcomesOptions {
  readonly config: Config;
  readonly store: DeliveryStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly reportingHost: string;
  readonly observer?: DeliveryObserver | undefined;
  /** A DSN was spooled: hand it to the scheduler. */
  readonly enqueue: (record: QueueRecord) => void;
}

export class MessageOutcomes {
  readonly counts = { delivered: 0, failed: 0, deferred: 0 };
  private readonly schedule: RetrySchedule;

  constructor(private readonly options: MessageOutcomesOptions) {
    this.schedule = new RetrySchedule(options.config.delivery);
  }

  /** Persists the record's new recipient states before anything else happens. */
  async persist(current: Current, record: QueueRecord): Promise<void> {
    current.record = record;
    await this.options.store.update(record);
  }

  /** Counts an attempt and schedules the next one, or gives up with 4.4.7 after the lifetime. Returns the record to keep, if any. */
  async defer(account: AccountConfig, current: Current, reply: UpstreamReply, verdict: Classification): Promise<QueueRecord | undefined> {
    const { clock, logger, store, config } = this.options;
    const now = clock.now();
    const at = new Date(now).toISOString();
    const attempts = current.record.attempts + 1;
    this.counts.deferred += 1;
    const lastReply = recordedReply(reply, verdict, at);
    if (this.schedule.isExpired(current.record, now)) {
      const hours = config.delivery.maxQueueLifetimeHours;
      const expired: RecordedReply = {
        text: `${EXPIRED_STATUS} Delivery time expired: not delivered within ${hours} hours; last reply: ${oneLine(reply.text)}`,
        at,
        condition: 'expired',
      };
      const record: QueueRecord = {
        ...current.record,
        attempts,
        lastReply,
        recipients: current.record.recipients.map((state) => (state.status === 'pending' ? { ...state, status: 'failed', lastReply: expired } : state)),
      };
      await this.persist(current, record);
      logger.error({ id: record.id, account: account.name, attempts, reply: reply.text }, 'message expired in the queue (4.4.7)');
      await this.finish(account, current, false);
      return undefined;
    }
    current.record = { ...current.record, attempts, nextAttemptAt: new Date(this.schedule.nextAttempt({ attempts }, now)).toISOString(), lastReply };
    await store.update(current.record);
    this.options.observer?.deferred(current.record, verdict.rule);
    logger.warn(
      { id: current.record.id, account: account.name, attempts, nextAttemptAt: current.record.nextAttemptAt, reply: reply.text, condition: verdict.rule, meaning: verdict.meaning },
      'delivery deferred',
    );
    return current.record;
  }

  /** No recipient pending: remove when all were delivered, else failed/ plus one DSN. Returns the failed reply, if any. */
  async finish(account: AccountConfig, current: Current, countsAttempt = true): Promise<RecordedReply | undefined> {
    const { store, observer, logger, clock } = this.options;
    const failed = current.record.recipients.filter((state) => state.status === 'failed');
    if (failed.length === 0) {
      await this.removeOrPersist(current.record);
      this.counts.delivered += 1;
      observer?.delivered(current.record, clock.now());
      return undefined;
    }
    // The failed view shows how often it was tried (the refusing attempt counts) and its last reply.
    const record: QueueRecord = {
      ...current.record,
      attempts: current.record.attempts + (countsAttempt ? 1 : 0),
      lastReply: countsAttempt ? (failed[0]?.lastReply ?? current.record.lastReply) : current.record.lastReply,
    };
    current.record = record;
    if (record.kind !== 'message') {
      // RFC 3464 section 2 / RFC 5321 6.1: never bounce what the relay generated (a DSN, a notice),
      // or two relays could loop forever.
      logger.error(
        { id: record.id, kind: record.kind, account: account.name, rcpt: failed.map((state) => state.address) },
        'a message the relay generated could not be delivered; not bounced',
      );
    } else {
      await this.bounce(account, record);
    }
    await store.moveToFailed(record);
    this.counts.failed += 1;
    const reply = failed[0]?.lastReply;
    observer?.failed(record, reply === undefined ? 'unknown' : recordedCondition(reply).id);
    return reply;
  }

  /** Removes a delivered message; when that fails, records its delivered recipients before the error goes on. */
  private async removeOrPersist(record: QueueRecord): Promise<void> {
    try {
      await this.options.store.remove(record.id);
    } catch (error) {
      await this.options.store.update(record).catch(() => undefined);
      throw error;
    }
  }

  private async bounce(account: AccountConfig, record: QueueRecord): Promise<void> {
    const { store, logger, clock, reportingHost } = this.options;
    if (record.mailFrom === '') {
      logger.warn({ id: record.id }, 'no DSN: the message had a null sender');
      return;
    }
    let originalHeaders = '';
    try {
      originalHeaders = await readHeaderBlock(store.messageFile(record));
    } catch (error) {
      logger.warn({ id: record.id, err: (error as Error).message }, 'original headers unreadable; DSN without them');
    }
    const dsn = composeDsn({ record, mailbox: account.mailbox, reportingHost, originalHeaders, now: new Date(clock.now()) });
    const queued = await store.enqueueBuffer(dsn.raw, dsn.fields);
    logger.info({ id: record.id, dsn: queued.id, to: record.mailFrom }, 'delivery status notification queued');
    this.options.enqueue(queued);
  }
}
