/**
 * One account's lane in the scheduler: its messages (waiting, in flight, and delivered but still
 * being removed), its connection pool, its pacing window and its state machine; and what
 * `status` sees of it.
 */
import type { AccountConfig } from '../core/config.js';
import type { AccountSnapshot, LastError } from '../core/delivery-contracts.js';
import type { QueueRecord } from '../core/queue-record.js';
import { describeMachine, initialMachine, isHeld, type AccountMachine } from './account-states.js';
import type { MessageSender } from './message-sender.js';
import { AcceptancePacer } from './pacing.js';

export interface Lane {
  readonly account: AccountConfig;
  readonly pacer: AcceptancePacer;
  /** Records not in flight, by id. */
  readonly waiting: Map<string, QueueRecord>;
  readonly inFlight: Map<string, Promise<void>>;
  /**
   * Delivered records whose removal from the spool is still under way. Their connection is free
   * already; the id stays here so that nothing sends them again meanwhile.
   */
  readonly removing: Map<string, Promise<void>>;
  sender: MessageSender | undefined;
  machine: AccountMachine;
  cancelTimer: (() => void) | undefined;
  timerDue: number | undefined;
  lastDelivery: { at: number; id: string; response: string } | undefined;
  lastError: (Omit<LastError, 'at'> & { at: number }) | undefined;
}

/** When a `queue retry` will really go, and why not at once. */
export interface RetryPlan {
  readonly at: string;
  readonly waitingFor?: string | undefined;
}

/** A paused or held account goes at its wake-up; else intake's hold (intake-priority.ts), if any. */
export function retryPlan(machine: AccountMachine, now: number, intakeBusyUntil: number | undefined): RetryPlan {
  if (machine.state !== 'active' && machine.wakeAt > now) {
    return { at: new Date(machine.wakeAt).toISOString(), waitingFor: `the account is ${machine.state}: ${machine.reason ?? ''}`.replace(/: $/, '') };
  }
  if (intakeBusyUntil === undefined) return { at: new Date(now).toISOString() };
  return { at: new Date(intakeBusyUntil).toISOString(), waitingFor: 'clients are handing over messages; sends start when they pause' };
}

/** A send or a removal is under way for this record: it must not be queued again. */
export function isBusyWith(lane: Lane, id: string): boolean {
  return lane.inFlight.has(id) || lane.removing.has(id);
}

/** Everything under way in the lane: its sends and its removals. */
export function workUnderWay(lane: Lane): Promise<void>[] {
  return [...lane.inFlight.values(), ...lane.removing.values()];
}

export function newLane(account: AccountConfig, now: number, acceptedBefore: readonly number[]): Lane {
  return {
    account,
    pacer: new AcceptancePacer(account.rate.messages, account.rate.perSeconds * 1000, acceptedBefore),
    waiting: new Map(),
    inFlight: new Map(),
    removing: new Map(),
    sender: undefined,
    machine: initialMachine(now),
    cancelTimer: undefined,
    timerDue: undefined,
    lastDelivery: undefined,
    lastError: undefined,
  };
}

/** Oldest first (receivedAt, then id), so nothing starves. */
export function oldest(records: Iterable<QueueRecord>): QueueRecord | undefined {
  let best: QueueRecord | undefined;
  for (const record of records) if (best === undefined || isOlder(record, best)) best = record;
  return best;
}

function isOlder(a: QueueRecord, b: QueueRecord): boolean {
  return a.receivedAt < b.receivedAt || (a.receivedAt === b.receivedAt && a.id < b.id);
}

/**
 * Next-attempt times, parsed once per record object (records are replaced, never changed in
 * place): the look for the next record to send runs for every message sent, over a backlog of
 * hundreds while Exchange's 30 a minute holds a batch back.
 */
const dueTimes = new WeakMap<QueueRecord, number>();

function dueAt(record: QueueRecord): number {
  let at = dueTimes.get(record);
  if (at === undefined) {
    at = Date.parse(record.nextAttemptAt);
    dueTimes.set(record, at);
  }
  return at;
}

/** The oldest record whose next attempt is due, in one pass without copying the backlog. */
export function oldestDue(lane: Lane, now: number): QueueRecord | undefined {
  let best: QueueRecord | undefined;
  for (const record of lane.waiting.values()) {
    if (dueAt(record) <= now && (best === undefined || isOlder(record, best))) best = record;
  }
  return best;
}

export function earliestAttempt(lane: Lane): number | undefined {
  let earliest: number | undefined;
  for (const record of lane.waiting.values()) {
    const at = dueAt(record);
    if (earliest === undefined || at < earliest) earliest = at;
  }
  return earliest;
}

export function describeLane(lane: Lane, now: number): AccountSnapshot {
  const machine = lane.machine;
  // A throttling pause that has run out but not yet been acted on reads as what it is about to be.
  const lapsed = machine.state === 'throttled' && now >= machine.wakeAt;
  const shown: AccountMachine = lapsed ? { ...machine, state: 'active', reason: undefined, condition: undefined } : machine;
  const earliest = earliestAttempt(lane);
  // A held account tries its oldest message at the probe time, due or not.
  const next = earliest === undefined ? undefined : isHeld(shown.state) ? shown.wakeAt : Math.max(earliest, shown.wakeAt);
  const { doing, next: then } = describeMachine(shown);
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    account: lane.account.name,
    mailbox: lane.account.mailbox,
    state: shown.state,
    reason: shown.reason,
    condition: shown.condition,
    since: iso(shown.since),
    doing,
    next: then,
    inFlight: lane.inFlight.size,
    queued: lane.waiting.size + lane.inFlight.size,
    nextAttemptAt: next === undefined ? undefined : iso(next),
    lastDelivery: lane.lastDelivery === undefined ? undefined : { ...lane.lastDelivery, at: iso(lane.lastDelivery.at) },
    lastError: lane.lastError === undefined ? undefined : { ...lane.lastError, at: iso(lane.lastError.at) },
  };
}
