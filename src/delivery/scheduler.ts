/**
 * Moves spooled messages to Microsoft 365, one lane per account:
 *  - at most `maxConnections` sends in flight (Exchange: 3 per mailbox) and at most
 *    `rate.messages` starts in any `rate.perSeconds` window (Exchange: 30 a minute);
 *  - due records (nextAttemptAt <= now) go oldest first; waiting uses Clock timers, never a loop;
 *  - every outcome is decided by the classification table (reply-classification.ts) and
 *    persisted before the next step: delivered recipients are written first, so a partly
 *    delivered message never goes again to those already done;
 *  - throttling pauses the account without counting an attempt; sign-in problems HOLD the
 *    account (nothing sent, nothing burnt) until a periodic probe or release() succeeds;
 *  - recipients that fail for good get one RFC 3464 DSN to the sender (never for a DSN).
 */
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { pendingRecipients, type QueueRecord, type RecipientState, type RecordedReply } from '../core/queue-record.js';
import type { DeliveryStore } from './delivery-store.js';
import { composeDsn, EXPIRED_STATUS, readHeaderBlock } from './dsn.js';
import type { MessageSender, SendOptions, SendResult, UpstreamReply } from './message-sender.js';
import { SlidingWindowRateLimiter } from './rate-limiter.js';
import { classifyReply, type Classification } from './reply-classification.js';
import { RetrySchedule } from './retry-schedule.js';

export type { MessageSender, SendResult, SendOptions, UpstreamReply } from './message-sender.js';
export type { DeliveryStore } from './delivery-store.js';

export type AccountState = 'active' | 'throttled' | 'held';

export interface AccountSnapshot {
  readonly account: string;
  readonly mailbox: string;
  readonly state: AccountState;
  /** Why the account is throttled or held (a sentence from the classification table and the reply). */
  readonly reason?: string | undefined;
  /** Since when it is in this state (ISO 8601). */
  readonly since?: string | undefined;
  readonly inFlight: number;
  /** Messages known to the scheduler for this account, in flight included. */
  readonly queued: number;
  /** Earliest time something will be tried (ISO 8601), when anything is waiting. */
  readonly nextAttemptAt?: string | undefined;
  readonly lastDelivery?: { readonly at: string; readonly id: string; readonly response: string } | undefined;
  readonly lastError?: { readonly at: string; readonly id?: string | undefined; readonly text: string } | undefined;
}

export interface DeliverySnapshot {
  readonly accounts: readonly AccountSnapshot[];
  readonly totals: {
    readonly queued: number;
    readonly inFlight: number;
    readonly heldAccounts: number;
    /** Since start: messages fully delivered, moved to failed, and deferred attempts. */
    readonly delivered: number;
    readonly failed: number;
    readonly deferred: number;
  };
}

export interface DeliverySchedulerOptions {
  readonly config: Config;
  readonly store: DeliveryStore;
  readonly transportFor: (account: AccountConfig) => MessageSender;
  readonly clock?: Clock;
  readonly logger: Logger;
  /** Our host name, for DSNs (Reporting-MTA). */
  readonly reportingHost: string;
  /** Told of each outcome (metrics); `reason` is the classification rule id, or "expired". */
  readonly observer?: DeliveryObserver;
}

/** What the scheduler reports to whoever counts (the daemon's metrics); calls must not throw. */
export interface DeliveryObserver {
  /** Every recipient delivered; the record is removed from the queue. */
  delivered(record: QueueRecord, now: number): void;
  /** An attempt counted and the record scheduled again. */
  deferred(record: QueueRecord, reason: string): void;
  /** Moved to failed/. */
  failed(record: QueueRecord, reason: string): void;
}

interface Lane {
  readonly account: AccountConfig;
  readonly limiter: SlidingWindowRateLimiter;
  /** Records not in flight, by id. */
  readonly waiting: Map<string, QueueRecord>;
  readonly inFlight: Map<string, Promise<void>>;
  sender: MessageSender | undefined;
  state: AccountState;
  reason: string | undefined;
  since: number;
  /** No new send before this (throttling, token service unreachable). */
  pausedUntil: number;
  /** Index into throttleBackoffSeconds; grows while throttling continues, reset by a success. */
  throttleStep: number;
  /** While held: when the next probe send may go. */
  probeAt: number;
  cancelTimer: (() => void) | undefined;
  timerDue: number | undefined;
  lastDelivery: { at: number; id: string; response: string } | undefined;
  lastError: { at: number; id?: string | undefined; text: string } | undefined;
}

interface AttemptOptions {
  readonly forceTokenRefresh: boolean;
}

export class DeliveryScheduler {
  private readonly config: Config;
  private readonly store: DeliveryStore;
  private readonly transportFor: (account: AccountConfig) => MessageSender;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly reportingHost: string;
  private readonly observer: DeliveryObserver | undefined;
  private readonly schedule: RetrySchedule;
  private readonly lanes = new Map<string, Lane>();
  private readonly counts = { delivered: 0, failed: 0, deferred: 0 };
  private stopping = false;

  constructor(options: DeliverySchedulerOptions) {
    this.config = options.config;
    this.store = options.store;
    this.transportFor = options.transportFor;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.reportingHost = options.reportingHost;
    this.observer = options.observer;
    this.schedule = new RetrySchedule(options.config.delivery);
    const now = this.clock.now();
    for (const account of options.config.accounts) {
      this.lanes.set(account.name, {
        account,
        limiter: new SlidingWindowRateLimiter(account.rate.messages, account.rate.perSeconds * 1000),
        waiting: new Map(),
        inFlight: new Map(),
        sender: undefined,
        state: 'active',
        reason: undefined,
        since: now,
        pausedUntil: 0,
        throttleStep: 0,
        probeAt: 0,
        cancelTimer: undefined,
        timerDue: undefined,
        lastDelivery: undefined,
        lastError: undefined,
      });
    }
  }

  /** Takes over the records found in the spool at boot. */
  start(records: readonly QueueRecord[]): void {
    for (const record of records) this.admit(record);
    for (const lane of this.lanes.values()) this.pump(lane);
  }

  /** A newly spooled record (the scheduler enqueues the DSNs it creates itself). */
  enqueue(record: QueueRecord): void {
    const lane = this.admit(record);
    if (lane !== undefined) this.pump(lane);
  }

  /** `queue retry`: make a waiting record due now. False when unknown or in flight. */
  retryNow(id: string): boolean {
    for (const lane of this.lanes.values()) {
      const record = lane.waiting.get(id);
      if (record === undefined) continue;
      lane.waiting.set(id, { ...record, nextAttemptAt: this.iso(this.clock.now()) });
      this.pump(lane);
      return true;
    }
    return false;
  }

  /** `queue delete`: drop a waiting record from memory (the caller deletes the files). */
  forget(id: string): boolean {
    for (const lane of this.lanes.values()) {
      if (lane.waiting.delete(id)) return true;
    }
    return false;
  }

  /**
   * Holds an account before a send fails, e.g. when the keep-alive refresh learnt that a person
   * must sign in again: nothing is sent, every message stays queued, probes as for any hold.
   */
  hold(account: string, reason: string): void {
    const lane = this.lanes.get(account);
    if (lane === undefined) return;
    this.cancelWake(lane);
    this.holdLane(lane, reason, undefined);
    this.pump(lane);
  }

  /** Lifts a hold (or a pause) at once, e.g. after `login` or an administrator's fix. */
  release(account: string): void {
    const lane = this.lanes.get(account);
    if (lane === undefined) return;
    if (lane.state !== 'active') {
      this.logger.info({ account, previous: lane.state }, 'delivery released for account');
    }
    this.setState(lane, 'active', undefined);
    lane.pausedUntil = 0;
    lane.probeAt = 0;
    this.pump(lane);
  }

  snapshot(): DeliverySnapshot {
    const now = this.clock.now();
    const accounts = [...this.lanes.values()].map((lane) => this.describeLane(lane, now));
    return {
      accounts,
      totals: {
        queued: accounts.reduce((sum, account) => sum + account.queued, 0),
        inFlight: accounts.reduce((sum, account) => sum + account.inFlight, 0),
        heldAccounts: accounts.filter((account) => account.state === 'held').length,
        ...this.counts,
      },
    };
  }

  /** Resolves when no send is in flight (for an orderly stop and for tests). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.lanes.values()].flatMap((lane) => [...lane.inFlight.values()]);
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
    if (!lane.inFlight.has(record.id)) lane.waiting.set(record.id, record);
    return lane;
  }

  private pump(lane: Lane): void {
    if (this.stopping) return;
    const now = this.clock.now();
    if (lane.state === 'held') {
      this.pumpHeld(lane, now);
      return;
    }
    if (now < lane.pausedUntil) {
      this.wakeAt(lane, lane.pausedUntil);
      return;
    }
    if (lane.state === 'throttled') this.setState(lane, 'active', undefined);
    while (lane.inFlight.size < lane.account.maxConnections) {
      const record = this.oldestDue(lane, now);
      if (record === undefined) break;
      const wait = lane.limiter.msUntilNextSlot(now);
      if (wait > 0) {
        this.wakeAt(lane, now + wait);
        return;
      }
      lane.limiter.record(now);
      this.dispatch(lane, record, { forceTokenRefresh: false });
    }
    if (lane.inFlight.size < lane.account.maxConnections) {
      const next = this.earliestAttempt(lane);
      if (next !== undefined) this.wakeAt(lane, next);
    }
  }

  /** A held account sends one probe every holdRetrySeconds, with a freshly redeemed token. */
  private pumpHeld(lane: Lane, now: number): void {
    if (lane.inFlight.size > 0) return;
    if (now < lane.probeAt) {
      this.wakeAt(lane, lane.probeAt);
      return;
    }
    const probe = this.oldest([...lane.waiting.values()]);
    if (probe === undefined) return;
    const wait = lane.limiter.msUntilNextSlot(now);
    if (wait > 0) {
      this.wakeAt(lane, now + wait);
      return;
    }
    lane.limiter.record(now);
    // Whatever the probe's outcome (a network error, a pause, a deferral), the next one waits a full interval.
    lane.probeAt = now + this.config.delivery.holdRetrySeconds * 1000;
    this.logger.info({ account: lane.account.name, id: probe.id }, 'held account: trying one message to see whether sign-in works again');
    this.dispatch(lane, probe, { forceTokenRefresh: true });
  }

  private oldestDue(lane: Lane, now: number): QueueRecord | undefined {
    return this.oldest([...lane.waiting.values()].filter((record) => Date.parse(record.nextAttemptAt) <= now));
  }

  private oldest(records: readonly QueueRecord[]): QueueRecord | undefined {
    let best: QueueRecord | undefined;
    for (const record of records) {
      if (best === undefined || record.receivedAt < best.receivedAt || (record.receivedAt === best.receivedAt && record.id < best.id)) {
        best = record;
      }
    }
    return best;
  }

  private earliestAttempt(lane: Lane): number | undefined {
    let earliest: number | undefined;
    for (const record of lane.waiting.values()) {
      const at = Date.parse(record.nextAttemptAt);
      if (earliest === undefined || at < earliest) earliest = at;
    }
    return earliest;
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

  private dispatch(lane: Lane, record: QueueRecord, options: AttemptOptions): void {
    lane.waiting.delete(record.id);
    const work = this.attempt(lane, record, options).finally(() => {
      lane.inFlight.delete(record.id);
      this.pump(lane);
    });
    lane.inFlight.set(record.id, work);
  }

  // --- one attempt and its outcome ---------------------------------------------------------

  private async attempt(lane: Lane, record: QueueRecord, options: AttemptOptions): Promise<void> {
    // The latest persisted version, so that a store failure never forgets a delivered recipient.
    const current = { record };
    try {
      await this.tryRecord(lane, current, options);
    } catch (error) {
      const now = this.clock.now();
      const text = error instanceof Error ? error.message : String(error);
      this.logger.error({ id: record.id, account: lane.account.name, err: text }, 'delivery step failed; will try again');
      lane.lastError = { at: now, id: record.id, text };
      this.keep(lane, { ...current.record, nextAttemptAt: this.iso(now + this.schedule.delayAfter(1)) });
    }
  }

  private async tryRecord(lane: Lane, current: { record: QueueRecord }, options: AttemptOptions): Promise<void> {
    const record = current.record;
    const recipients = pendingRecipients(record);
    if (recipients.length === 0) {
      await this.finish(lane, current);
      return;
    }
    const sendOptions: SendOptions = options.forceTokenRefresh ? { forceTokenRefresh: true } : {};
    const result = await this.senderFor(lane).send(record, recipients, sendOptions);
    switch (result.kind) {
      case 'sign-in-required':
        this.holdLane(lane, `sign-in required: ${result.reason}`, record.id);
        this.keep(lane, record);
        return;
      case 'token-unavailable':
        this.pause(lane, this.config.delivery.retryDelaysSeconds[0] ?? 60, `token service unreachable: ${result.reason}`, record.id);
        this.keep(lane, record);
        return;
      case 'failed':
        await this.onTransactionFailed(lane, current, recipients, result.reply, options);
        return;
      case 'sent':
      case 'rejected':
        await this.onPerRecipient(lane, current, recipients, result);
        return;
    }
  }

  private async onTransactionFailed(
    lane: Lane,
    current: { record: QueueRecord },
    recipients: readonly string[],
    reply: UpstreamReply,
    options: AttemptOptions,
  ): Promise<void> {
    const verdict = classifyReply(reply);
    // Exchange answered MAIL FROM, RCPT TO or DATA, so AUTH went through: a held account's probe
    // proved that sign-in works, even when this one message is then refused or deferred.
    if (verdict.action !== 'reauthenticate' && answeredAfterAuth(reply)) this.authenticated(lane);
    switch (verdict.action) {
      case 'throttle':
        this.throttle(lane, verdict, reply, current.record.id);
        this.keep(lane, current.record);
        return;
      case 'reauthenticate':
        if (verdict.refreshTokenFirst && !options.forceTokenRefresh) {
          // 535 5.7.3 may just mean the token went stale: redeem a new one once before holding.
          this.logger.warn({ id: current.record.id, account: lane.account.name, reply: reply.text }, 'token refused; retrying once with a new token');
          await this.tryRecord(lane, current, { forceTokenRefresh: true });
          return;
        }
        this.holdLane(lane, `${verdict.meaning} (${reply.text})`, current.record.id);
        this.keep(lane, current.record);
        return;
      case 'fail':
        await this.settle(current, (state) =>
          recipients.includes(state.address) ? { ...state, status: 'failed', lastReply: this.recorded(reply) } : state,
        );
        this.logger.error(
          { id: current.record.id, account: lane.account.name, rcpt: recipients, reply: reply.text, meaning: verdict.meaning },
          'message refused permanently',
        );
        await this.finish(lane, current);
        return;
      case 'defer':
      case 'delivered':
        await this.defer(lane, current, reply, verdict);
        return;
    }
  }

  private async onPerRecipient(
    lane: Lane,
    current: { record: QueueRecord },
    recipients: readonly string[],
    result: Extract<SendResult, { kind: 'sent' | 'rejected' }>,
  ): Promise<void> {
    const now = this.clock.now();
    // Authentication went through: a hold (this was the probe) is over, throttling eased.
    this.authenticated(lane);
    const accepted = new Set((result.kind === 'sent' ? result.accepted : []).map((address) => address.toLowerCase()));
    const rejections = new Map(result.rejected.map((rejection) => [rejection.address.toLowerCase(), rejection.reply]));
    const response = result.kind === 'sent' ? result.response : '';
    const verdicts = new Map([...rejections].map(([address, reply]) => [address, classifyReply(reply)]));

    await this.settle(current, (state) => {
      if (!recipients.includes(state.address)) return state;
      const key = state.address.toLowerCase();
      if (accepted.has(key)) return { ...state, status: 'delivered', lastReply: { code: 250, text: response, at: this.iso(now) } };
      const reply = rejections.get(key);
      if (reply === undefined) return state;
      const status = verdicts.get(key)?.action === 'fail' ? 'failed' : 'pending';
      return { ...state, status, lastReply: this.recorded(reply) };
    });

    const delivered = recipients.filter((address) => accepted.has(address.toLowerCase()));
    if (delivered.length > 0) {
      lane.throttleStep = 0;
      lane.lastDelivery = { at: now, id: current.record.id, response };
      this.logger.info({ id: current.record.id, account: lane.account.name, rcpt: delivered, response }, 'message delivered');
    }
    for (const [address, reply] of rejections) {
      const verdict = verdicts.get(address);
      this.logger[verdict?.action === 'fail' ? 'error' : 'warn'](
        { id: current.record.id, account: lane.account.name, rcpt: address, reply: reply.text, meaning: verdict?.meaning },
        verdict?.action === 'fail' ? 'recipient refused permanently' : 'recipient deferred',
      );
    }
    const throttled = [...verdicts.values()].find((verdict) => verdict.action === 'throttle');
    const firstRejection = result.rejected[0]?.reply;
    if (throttled !== undefined && firstRejection !== undefined && pendingRecipients(current.record).length > 0) {
      this.throttle(lane, throttled, firstRejection, current.record.id);
      this.keep(lane, current.record);
      return;
    }
    const deferredReply = result.rejected.find((rejection) => verdicts.get(rejection.address.toLowerCase())?.action !== 'fail')?.reply;
    if (deferredReply !== undefined) {
      await this.defer(lane, current, deferredReply, classifyReply(deferredReply));
      return;
    }
    await this.finish(lane, current);
  }

  /** Counts an attempt and schedules the next one, or gives up with 4.4.7 after the lifetime. */
  private async defer(lane: Lane, current: { record: QueueRecord }, reply: UpstreamReply, verdict: Classification): Promise<void> {
    const now = this.clock.now();
    const attempts = current.record.attempts + 1;
    this.counts.deferred += 1;
    lane.lastError = { at: now, id: current.record.id, text: reply.text };
    if (this.schedule.isExpired(current.record, now)) {
      const hours = this.config.delivery.maxQueueLifetimeHours;
      const expired: RecordedReply = {
        text: `${EXPIRED_STATUS} Delivery time expired: not delivered within ${hours} hours; last reply: ${oneLine(reply.text)}`,
        at: this.iso(now),
      };
      current.record = { ...current.record, attempts, lastReply: this.recorded(reply) };
      await this.settle(current, (state) => (state.status === 'pending' ? { ...state, status: 'failed', lastReply: expired } : state));
      this.logger.error({ id: current.record.id, account: lane.account.name, attempts, reply: reply.text }, 'message expired in the queue (4.4.7)');
      await this.finish(lane, current);
      return;
    }
    const next = this.schedule.nextAttempt({ attempts }, now);
    current.record = { ...current.record, attempts, nextAttemptAt: this.iso(next), lastReply: this.recorded(reply) };
    await this.store.update(current.record);
    this.observer?.deferred(current.record, verdict.rule);
    this.logger.warn(
      { id: current.record.id, account: lane.account.name, attempts, nextAttemptAt: current.record.nextAttemptAt, reply: reply.text, meaning: verdict.meaning },
      'delivery deferred',
    );
    this.keep(lane, current.record);
  }

  /** No recipient pending: remove when all were delivered, else failed/ plus one DSN. */
  private async finish(lane: Lane, current: { record: QueueRecord }): Promise<void> {
    const record = current.record;
    const failed = record.recipients.filter((state) => state.status === 'failed');
    if (failed.length === 0) {
      await this.store.remove(record.id);
      this.counts.delivered += 1;
      this.observer?.delivered(record, this.clock.now());
      return;
    }
    if (record.kind !== 'message') {
      // RFC 3464 section 2 / RFC 5321 6.1: never bounce what the relay generated (a DSN, a notice),
      // or two relays could loop forever.
      this.logger.error(
        { id: record.id, kind: record.kind, account: lane.account.name, rcpt: failed.map((state) => state.address) },
        'a message the relay generated could not be delivered; not bounced',
      );
    } else {
      await this.bounce(lane, record);
    }
    await this.store.moveToFailed(record);
    this.counts.failed += 1;
    this.observer?.failed(record, failureReason(failed[0]?.lastReply));
    lane.lastError = { at: this.clock.now(), id: record.id, text: failed[0]?.lastReply?.text ?? 'failed' };
  }

  private async bounce(lane: Lane, record: QueueRecord): Promise<void> {
    if (record.mailFrom === '') {
      this.logger.warn({ id: record.id }, 'no DSN: the message had a null sender');
      return;
    }
    let originalHeaders = '';
    try {
      originalHeaders = await readHeaderBlock(this.store.messagePath(record.id));
    } catch (error) {
      this.logger.warn({ id: record.id, err: (error as Error).message }, 'original headers unreadable; DSN without them');
    }
    const dsn = composeDsn({ record, mailbox: lane.account.mailbox, reportingHost: this.reportingHost, originalHeaders, now: new Date(this.clock.now()) });
    const queued = await this.store.enqueueBuffer(dsn.raw, dsn.fields);
    this.logger.info({ id: record.id, dsn: queued.id, to: record.mailFrom }, 'delivery status notification queued');
    this.enqueue(queued);
  }

  /** Applies a per-recipient change and persists it before anything else happens. */
  private async settle(current: { record: QueueRecord }, change: (state: RecipientState) => RecipientState): Promise<void> {
    current.record = { ...current.record, recipients: current.record.recipients.map(change) };
    await this.store.update(current.record);
  }

  // --- account states ----------------------------------------------------------------------

  private throttle(lane: Lane, verdict: Classification, reply: UpstreamReply, id: string): void {
    const now = this.clock.now();
    const steps = this.config.delivery.throttleBackoffSeconds;
    const reason = `${verdict.meaning} (${oneLine(reply.text)})`;
    if (verdict.pauseSeconds !== undefined) {
      this.pause(lane, verdict.pauseSeconds, reason, id);
      return;
    }
    // Concurrent sends refused together are one throttling event: one step of the backoff.
    if (now < lane.pausedUntil) {
      lane.lastError = { at: now, id, text: reason };
      return;
    }
    const seconds = steps[Math.min(lane.throttleStep, steps.length - 1)] ?? 60;
    lane.throttleStep += 1;
    this.pause(lane, seconds, reason, id);
  }

  private pause(lane: Lane, seconds: number, reason: string, id: string): void {
    const now = this.clock.now();
    lane.pausedUntil = Math.max(lane.pausedUntil, now + seconds * 1000);
    lane.lastError = { at: now, id, text: reason };
    if (lane.state === 'held') return;
    this.setState(lane, 'throttled', reason);
    this.logger.warn({ account: lane.account.name, id, pauseSeconds: seconds, reason }, 'account paused');
  }

  private holdLane(lane: Lane, reason: string, id: string | undefined): void {
    const now = this.clock.now();
    lane.probeAt = now + this.config.delivery.holdRetrySeconds * 1000;
    lane.lastError = { at: now, id, text: reason };
    if (lane.state === 'held') return;
    this.setState(lane, 'held', reason);
    this.logger.error(
      { account: lane.account.name, mailbox: lane.account.mailbox, reason, retrySeconds: this.config.delivery.holdRetrySeconds },
      'account held: nothing is sent until sign-in works again; messages stay queued',
    );
  }

  private authenticated(lane: Lane): void {
    if (lane.state !== 'held') return;
    this.logger.info({ account: lane.account.name }, 'sign-in works again; hold lifted');
    this.setState(lane, 'active', undefined);
    lane.probeAt = 0;
  }

  private setState(lane: Lane, state: AccountState, reason: string | undefined): void {
    if (lane.state !== state) lane.since = this.clock.now();
    lane.state = state;
    lane.reason = reason;
  }

  private keep(lane: Lane, record: QueueRecord): void {
    lane.waiting.set(record.id, record);
  }

  private senderFor(lane: Lane): MessageSender {
    lane.sender ??= this.transportFor(lane.account);
    return lane.sender;
  }

  private describeLane(lane: Lane, now: number): AccountSnapshot {
    const paused = lane.state === 'throttled' && now < lane.pausedUntil;
    const state: AccountState = lane.state === 'throttled' && !paused ? 'active' : lane.state;
    const earliest = this.earliestAttempt(lane);
    const next = earliest === undefined ? undefined : Math.max(earliest, state === 'held' ? lane.probeAt : paused ? lane.pausedUntil : earliest);
    return {
      account: lane.account.name,
      mailbox: lane.account.mailbox,
      state,
      reason: state === 'active' ? undefined : lane.reason,
      since: this.iso(lane.since),
      inFlight: lane.inFlight.size,
      queued: lane.waiting.size + lane.inFlight.size,
      nextAttemptAt: next === undefined ? undefined : this.iso(next),
      lastDelivery: lane.lastDelivery === undefined ? undefined : { ...lane.lastDelivery, at: this.iso(lane.lastDelivery.at) },
      lastError: lane.lastError === undefined ? undefined : { ...lane.lastError, at: this.iso(lane.lastError.at) },
    };
  }

  private recorded(reply: UpstreamReply): RecordedReply {
    return { ...(reply.code === undefined ? {} : { code: reply.code }), text: oneLine(reply.text), at: this.iso(this.clock.now()) };
  }

  private iso(ms: number): string {
    return new Date(ms).toISOString();
  }
}

/** nodemailer's codes for a server reply to MAIL FROM / RCPT TO (EENVELOPE) or DATA (EMESSAGE). */
function answeredAfterAuth(reply: UpstreamReply): boolean {
  return reply.code !== undefined && (reply.errorCode === 'EENVELOPE' || reply.errorCode === 'EMESSAGE');
}

/** The rule that refused a recipient for good, for metrics: the table's id, or "expired" (4.4.7). */
function failureReason(reply: RecordedReply | undefined): string {
  if (reply === undefined) return 'unknown';
  if (reply.code === undefined && reply.text.startsWith(EXPIRED_STATUS)) return 'expired';
  return classifyReply({ code: reply.code, text: reply.text }).rule;
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}
