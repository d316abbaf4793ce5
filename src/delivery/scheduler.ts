/**
 * Moves spooled messages to Microsoft 365, one lane per account (account-lane.ts):
 *  - at most `maxConnections` sends in flight (Exchange: 3 per mailbox) and at most
 *    `rate.messages` ACCEPTED in any `rate.perSeconds` window (pacing.ts, kept across restarts);
 *  - due records (nextAttemptAt <= now) go oldest first; waiting uses Clock timers, never a loop;
 *  - each outcome is classified once by the catalogue (src/core/conditions), decided by a pure
 *    function (recipient-outcome.ts) and persisted before the next step (message-outcomes.ts);
 *  - the account's state (throttled, held, waiting for Entra or for Microsoft 365) is the pure
 *    table of account-states.ts; a held account sends one probe every holdRetrySeconds.
 */
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { DeliveryObserver, DeliverySnapshot } from '../core/delivery-contracts.js';
import type { Logger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { applyEvent, identityCondition, type EventDetail } from './account-events.js';
import { describeLane, earliestAttempt, isBusyWith, newLane, oldest, oldestDue, retryPlan, workUnderWay, type Lane, type RetryPlan } from './account-lane.js';
import { isHeld, isPaused, type AccountEvent } from './account-states.js';
import type { DeliveryStore } from './delivery-store.js';
import type { MessageSender } from './message-sender.js';
import { AttemptRunner } from './attempt-runner.js';
import { MessageOutcomes } from './message-outcomes.js';
import { IntakePriority, type IntakePriorityLimits } from './intake-priority.js';
import { PacingSaver, type PacingFile } from './pacing.js';
import { INTAKE_PRIORITY, pauseIntervals, type PauseIntervals } from './retry-schedule.js';

export type { AccountSnapshot, AccountState, DeliveryObserver, DeliverySnapshot } from '../core/delivery-contracts.js';
export type { MessageSender, SendResult, SendOptions, UpstreamReply } from './message-sender.js';
export type { DeliveryStore } from './delivery-store.js';
export type { RetryPlan } from './account-lane.js';

export interface DeliverySchedulerOptions {
  readonly config: Config;
  readonly store: DeliveryStore;
  readonly transportFor: (account: AccountConfig) => MessageSender;
  readonly clock?: Clock;
  readonly logger: Logger;
  /** Our host name, for DSNs (Reporting-MTA). */
  readonly reportingHost: string;
  /** Told of each outcome (metrics) and state change (OS log). */
  readonly observer?: DeliveryObserver;
  /** Where the pacing window is kept across restarts, and what it held at the last stop. */
  readonly pacing?: { readonly file: PacingFile; readonly acceptedBefore: Readonly<Record<string, readonly number[]>> };
  /** How long new sends yield to intake (INTAKE_PRIORITY unless a test says otherwise). */
  readonly intakePriority?: IntakePriorityLimits;
}

export class DeliveryScheduler {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly intervals: PauseIntervals;
  private readonly outcomes: MessageOutcomes;
  private readonly attempts: AttemptRunner;
  private readonly lanes = new Map<string, Lane>();
  private readonly intake: IntakePriority;
  private readonly pacingSaver: PacingSaver | undefined;
  private stopping = false;

  constructor(private readonly options: DeliverySchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.intervals = pauseIntervals(options.config.delivery);
    this.intake = new IntakePriority(options.intakePriority ?? INTAKE_PRIORITY);
    const pacing = options.pacing;
    this.pacingSaver = pacing === undefined ? undefined : new PacingSaver(
      pacing.file,
      this.clock,
      (now) => Object.fromEntries([...this.lanes.values()].map((lane) => [lane.account.name, lane.pacer.recent(now)])),
      (error) => this.logger.warn({ err: error.message }, 'could not keep the pacing window on disk'),
    );
    this.outcomes = new MessageOutcomes({ ...options, clock: this.clock, enqueue: (record) => this.enqueue(record) });
    this.attempts = new AttemptRunner({
      clock: this.clock,
      logger: this.logger,
      intervals: this.intervals,
      outcomes: this.outcomes,
      transportFor: options.transportFor,
      event: (lane, event, detail) => this.event(lane.account.name, event, detail, false),
      keep: (lane, record) => this.keep(lane, record),
    });
    const now = this.clock.now();
    for (const account of options.config.accounts) {
      this.lanes.set(account.name, newLane(account, now, options.pacing?.acceptedBefore[account.name] ?? []));
    }
  }

  /** Takes over the records found in the spool at boot. */
  start(records: readonly QueueRecord[]): void {
    for (const record of records) this.admit(record);
    for (const lane of this.lanes.values()) this.pump(lane);
  }

  /** A message a client just handed over: queued, and intake has the event loop first (intake-priority.ts). */
  accepted(record: QueueRecord): void {
    this.intake.accepted(this.clock.now());
    this.enqueue(record);
  }

  /** A newly spooled record (the scheduler enqueues the DSNs it creates itself). */
  enqueue(record: QueueRecord): void {
    const lane = this.admit(record);
    if (lane !== undefined) this.pump(lane);
  }

  /** `queue retry`: make a waiting record due now; says when it will really go. Undefined when unknown or in flight. */
  retryNow(id: string): RetryPlan | undefined {
    for (const lane of this.lanes.values()) {
      const record = lane.waiting.get(id);
      if (record === undefined) continue;
      const now = this.clock.now();
      lane.waiting.set(id, { ...record, nextAttemptAt: new Date(now).toISOString() });
      this.pump(lane);
      // Still waiting after the pump while the account is active: clients come first.
      return retryPlan(lane.machine, now, lane.waiting.has(id) ? this.intake.holdUntil(now) : undefined);
    }
    return undefined;
  }

  /** `queue delete`: drop a waiting record from memory (the caller deletes the files). */
  forget(id: string): boolean {
    for (const lane of this.lanes.values()) if (lane.waiting.delete(id)) return true;
    return false;
  }

  /** Holds an account before a send fails (the keep-alive learnt that a person must act). */
  hold(account: string, reason: string): void {
    const condition = identityCondition(reason, true);
    this.event(account, condition.event === 'none' ? 'sign-in-refused' : (condition.event as AccountEvent), { condition, reply: { text: reason } });
  }

  /** Lifts a hold (or a pause) at once, e.g. after `login`, `secret set` or an administrator's fix. */
  release(account: string): void {
    this.event(account, 'released', {});
  }

  /**
   * The sign-in changed (login, logout, another user): pooled connections authenticated with the
   * old token are closed once their sends finish; the next message opens a new one.
   */
  reconnect(account: string): void {
    const lane = this.lanes.get(account);
    const old = lane?.sender;
    if (lane === undefined || old === undefined) return;
    lane.sender = undefined;
    void Promise.allSettled([...lane.inFlight.values()]).then(() => old.close());
    this.logger.info({ account }, 'sign-in changed: connections with the old token are closed');
  }

  snapshot(): DeliverySnapshot {
    const now = this.clock.now();
    const accounts = [...this.lanes.values()].map((lane) => describeLane(lane, now));
    const sum = (pick: (a: (typeof accounts)[number]) => number): number => accounts.reduce((total, account) => total + pick(account), 0);
    return {
      accounts,
      totals: { queued: sum((a) => a.queued), inFlight: sum((a) => a.inFlight), heldAccounts: accounts.filter((a) => isHeld(a.state)).length, ...this.outcomes.counts },
    };
  }

  /** Resolves when no send and no removal is under way (for an orderly stop and for tests). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.lanes.values()].flatMap(workUnderWay);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  /** Starts nothing new; waits for in-flight sends up to `timeoutMs`, then closes the transports. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    for (const lane of this.lanes.values()) this.cancelWake(lane);
    let cancelTimeout: (() => void) | undefined;
    const timedOut = new Promise<void>((resolve) => {
      cancelTimeout = this.clock.setTimer(timeoutMs, resolve);
    });
    await Promise.race([this.idle(), timedOut]);
    cancelTimeout?.();
    await this.pacingSaver?.flush();
    for (const lane of this.lanes.values()) {
      lane.sender?.close();
      lane.sender = undefined;
    }
  }

  // --- choosing what to send ---------------------------------------------------------------

  private admit(record: QueueRecord): Lane | undefined {
    const lane = this.lanes.get(record.account);
    if (lane === undefined) {
      // The message stays on disk; a configuration fix and a restart pick it up.
      this.logger.error({ id: record.id, account: record.account }, 'queued message names an account that is not configured');
      return undefined;
    }
    if (!isBusyWith(lane, record.id)) lane.waiting.set(record.id, record);
    return lane;
  }

  private pump(lane: Lane): void {
    if (this.stopping) return;
    const now = this.clock.now();
    if (lane.machine.state === 'throttled' && now >= lane.machine.wakeAt) this.event(lane.account.name, 'pause-ended', {}, false);
    if (isPaused(lane.machine, now)) {
      if (isHeld(lane.machine.state) || lane.waiting.size > 0) this.wakeAt(lane, lane.machine.wakeAt);
      return;
    }
    if (isHeld(lane.machine.state)) {
      this.probe(lane, now);
      return;
    }
    const intakeBusyUntil = this.intake.holdUntil(now);
    if (intakeBusyUntil !== undefined) {
      if (lane.waiting.size > 0) this.wakeAt(lane, intakeBusyUntil);
      return;
    }
    while (lane.inFlight.size < lane.account.maxConnections && lane.waiting.size > 0) {
      // The pacing window first: while it is full (a batch held to 30 a minute), a new message
      // costs no look through the backlog.
      if (!this.slotFree(lane, now)) return;
      const record = oldestDue(lane, now);
      if (record === undefined) break;
      this.dispatch(lane, record, false);
    }
    const next = lane.inFlight.size < lane.account.maxConnections ? earliestAttempt(lane) : undefined;
    if (next !== undefined) this.wakeAt(lane, next);
  }

  /** A held account sends its oldest message as a probe, with a freshly redeemed token. */
  private probe(lane: Lane, now: number): void {
    const record = oldest(lane.waiting.values());
    if (lane.inFlight.size > 0 || record === undefined || !this.slotFree(lane, now)) return;
    // Whatever the probe's outcome, the next one waits a full interval.
    lane.machine = { ...lane.machine, wakeAt: now + this.intervals.holdRetrySeconds * 1000 };
    this.logger.info({ account: lane.account.name, id: record.id, state: lane.machine.state }, 'held account: trying one message to see whether sign-in works again');
    this.dispatch(lane, record, true);
  }

  private slotFree(lane: Lane, now: number): boolean {
    const wait = lane.pacer.msUntilNextSlot(now);
    // Infinity: only a send in flight can free a place, and its end pumps again.
    if (wait > 0 && Number.isFinite(wait)) this.wakeAt(lane, now + wait);
    return wait === 0;
  }

  private wakeAt(lane: Lane, at: number): void {
    if (lane.cancelTimer !== undefined && lane.timerDue !== undefined && lane.timerDue <= at) return;
    this.cancelWake(lane);
    lane.timerDue = at;
    lane.cancelTimer = this.clock.setTimer(at - this.clock.now(), () => {
      lane.cancelTimer = undefined;
      lane.timerDue = undefined;
      this.pump(lane);
    });
  }

  private cancelWake(lane: Lane): void {
    lane.cancelTimer?.();
    lane.cancelTimer = undefined;
    lane.timerDue = undefined;
  }

  private dispatch(lane: Lane, record: QueueRecord, forceTokenRefresh: boolean): void {
    lane.waiting.delete(record.id);
    lane.pacer.reserve();
    const work = this.attempts.run(lane, record, forceTokenRefresh)
      .then(({ acceptedAt, removal }) => {
        lane.pacer.release(acceptedAt);
        if (acceptedAt !== undefined) this.pacingSaver?.soon();
        if (removal === undefined) return;
        // Set before the send leaves inFlight, so the id is never free while its files remain.
        lane.removing.set(record.id, removal.finally(() => {
          lane.removing.delete(record.id);
          this.pump(lane);
        }));
      })
      .finally(() => {
        lane.inFlight.delete(record.id);
        this.pump(lane);
      });
    lane.inFlight.set(record.id, work);
  }

  private event(account: string, event: AccountEvent, detail: EventDetail, pump = true): void {
    const lane = this.lanes.get(account);
    if (lane === undefined) return;
    applyEvent(lane, event, detail, { now: this.clock.now(), intervals: this.intervals, logger: this.logger, observer: this.options.observer });
    if (!pump) return;
    this.cancelWake(lane);
    this.pump(lane);
  }

  private keep(lane: Lane, record: QueueRecord): void {
    lane.waiting.set(record.id, record);
  }
}
