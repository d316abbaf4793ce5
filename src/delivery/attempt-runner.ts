/**
 * One attempt at one message and what follows from it: send to the pending recipients, decide
 * the outcome (recipient-outcome.ts, pure), persist it, tell the account (account-events.ts), and
 * finish, defer or keep the message (message-outcomes.ts). The scheduler owns when; this owns what.
 *
 * A message delivered to every recipient hands its connection back at once: its removal from
 * the spool goes on as `removal`, which may wait for a shared fsync of queue/ (spool.ts,
 * REMOVAL_FSYNC_WAIT_MS). Holding the connection for that wait had capped each account at
 * maxConnections messages per wait, about 120 a second (docs/performance.md, "Delivery: the
 * connection is free at the 250").
 */
import type { Clock } from '../core/clock.js';
import { conditionById } from '../core/conditions/index.js';
import type { AccountConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { pendingRecipients, type QueueRecord } from '../core/queue-record.js';
import { identityCondition, type EventDetail } from './account-events.js';
import type { Lane } from './account-lane.js';
import type { AccountEvent } from './account-states.js';
import type { MessageSender } from './message-sender.js';
import type { Current, MessageOutcomes } from './message-outcomes.js';
import { decideOutcome, type Outcome } from './recipient-outcome.js';
import type { PauseIntervals } from './retry-schedule.js';

export interface AttemptDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervals: PauseIntervals;
  readonly outcomes: MessageOutcomes;
  readonly transportFor: (account: AccountConfig) => MessageSender;
  /** Applies an account event (without pumping: the attempt's end pumps). */
  readonly event: (lane: Lane, event: AccountEvent, detail: EventDetail) => void;
  /** Puts a record back among the lane's waiting ones. */
  readonly keep: (lane: Lane, record: QueueRecord) => void;
}

/** What an attempt ended with. */
export interface Attempt {
  /** When the upstream accepted the message, if it did. */
  readonly acceptedAt: number | undefined;
  /** The delivered message's removal, still under way; it never rejects (a failure keeps the record for a retry). */
  readonly removal?: Promise<void>;
}

const NOTHING_ACCEPTED: Attempt = { acceptedAt: undefined };

export class AttemptRunner {
  constructor(private readonly deps: AttemptDeps) {}

  async run(lane: Lane, record: QueueRecord, forceTokenRefresh: boolean): Promise<Attempt> {
    const current: Current = { record };
    try {
      return await this.tryRecord(lane, current, forceTokenRefresh);
    } catch (error) {
      this.stepFailed(lane, current, error);
      return NOTHING_ACCEPTED;
    }
  }

  /** A local step failed (the spool, most likely): the record is kept and tried again later. */
  private stepFailed(lane: Lane, current: Current, error: unknown): void {
    const now = this.deps.clock.now();
    const text = error instanceof Error ? error.message : String(error);
    this.deps.logger.error({ id: current.record.id, account: lane.account.name, err: text }, 'delivery step failed; will try again');
    lane.lastError = { at: now, id: current.record.id, text, condition: 'local-error' };
    this.deps.keep(lane, { ...current.record, nextAttemptAt: new Date(now + this.deps.intervals.localErrorRetrySeconds * 1000).toISOString() });
  }

  private async tryRecord(lane: Lane, current: Current, forceTokenRefresh: boolean): Promise<Attempt> {
    const recipients = pendingRecipients(current.record);
    if (recipients.length === 0) {
      await this.deps.outcomes.finish(lane.account, current);
      return NOTHING_ACCEPTED;
    }
    const sender = (lane.sender ??= this.deps.transportFor(lane.account));
    const result = await sender.send(current.record, recipients, forceTokenRefresh ? { forceTokenRefresh: true } : {});
    if (result.kind === 'sign-in-required' || result.kind === 'token-unavailable') {
      const condition = identityCondition(result.reason, result.kind === 'sign-in-required');
      this.deps.event(lane, condition.event as AccountEvent, { condition, reply: { text: result.reason }, id: current.record.id });
      this.deps.keep(lane, current.record);
      return NOTHING_ACCEPTED;
    }
    const now = this.deps.clock.now();
    const outcome = decideOutcome({ record: current.record, recipients, result, forcedTokenRefresh: forceTokenRefresh, now: new Date(now).toISOString() });
    if (outcome.step.kind === 'retry-with-new-token') {
      this.deps.logger.warn({ id: current.record.id, account: lane.account.name, condition: outcome.verdict?.rule }, 'token refused; retrying once with a new token');
      return this.tryRecord(lane, current, true);
    }
    if (outcome.changed && removesNext(outcome)) current.record = outcome.record;
    else if (outcome.changed) await this.deps.outcomes.persist(current, outcome.record);
    this.report(lane, current.record, outcome, now);
    for (const note of outcome.events) this.deps.event(lane, note.event, { condition: note.verdict?.condition, reply: note.reply, id: current.record.id });
    if (removesNext(outcome)) {
      const removal = this.deps.outcomes.finish(lane.account, current).then(
        () => undefined,
        (error: unknown) => this.stepFailed(lane, current, error),
      );
      return { acceptedAt: now, removal };
    }
    await this.finishStep(lane, current, outcome);
    return { acceptedAt: outcome.delivered.length > 0 ? now : undefined };
  }

  private async finishStep(lane: Lane, current: Current, outcome: Outcome): Promise<void> {
    const step = outcome.step;
    if (step.kind === 'keep') return this.deps.keep(lane, current.record);
    if (step.kind === 'defer') {
      const kept = await this.deps.outcomes.defer(lane.account, current, step.reply, step.verdict);
      lane.lastError = { at: this.deps.clock.now(), id: current.record.id, text: step.reply.text, condition: step.verdict.rule, errorCode: step.reply.errorCode };
      if (kept !== undefined) this.deps.keep(lane, kept);
      return;
    }
    if (step.kind !== 'finish') return;
    const failed = await this.deps.outcomes.finish(lane.account, current);
    if (failed !== undefined) lane.lastError = { at: this.deps.clock.now(), id: current.record.id, text: failed.text, condition: conditionById(failed.condition)?.id ?? 'unknown', errorCode: failed.errorCode };
  }

  private report(lane: Lane, record: QueueRecord, outcome: Outcome, now: number): void {
    const base = { id: record.id, account: lane.account.name };
    if (outcome.delivered.length > 0) {
      lane.lastDelivery = { at: now, id: record.id, response: outcome.response };
      this.deps.logger.info({ ...base, rcpt: outcome.delivered, response: outcome.response }, 'message delivered');
    }
    for (const { address, reply, verdict } of outcome.refusals) {
      const fails = verdict.action === 'fail';
      this.deps.logger[fails ? 'error' : 'warn']({ ...base, rcpt: address, reply: reply.text, condition: verdict.rule, meaning: verdict.meaning }, fails ? 'recipient refused permanently' : 'recipient deferred');
    }
    if (outcome.verdict?.action === 'fail') {
      this.deps.logger.error({ ...base, condition: outcome.verdict.condition.id, reply: outcome.reply?.text, meaning: outcome.verdict.meaning }, 'message refused permanently');
    }
  }
}

/**
 * Every recipient delivered, so the next step removes the message, and writing the record
 * first (write, fsync, rename, fsync of queue/) is skipped. Nothing acknowledged can be lost
 * here; what a crash can cause is a second delivery (at-least-once), and the window for it
 * gets shorter: it ends when the removal's one fsync of queue/ returns, instead of when the
 * record's two fsyncs have. When the removal fails, MessageOutcomes.finish writes the record
 * after all, so a retry never sends to a delivered recipient again. docs/performance.md.
 */
function removesNext(outcome: Outcome): boolean {
  return outcome.step.kind === 'finish' && outcome.record.recipients.every((state) => state.status === 'delivered');
}
