/**
 * The account state machine as data: `(state, event) -> (next state, wake-up, what status says)`.
 * Pure: the scheduler feeds it the events of each outcome (the catalogue's event of a condition,
 * plus its own: answered, pause-ended, released) and applies what comes back.
 *
 *  active                         sending normally
 *  throttled                      Exchange asked us to slow down: nothing until the pause ends
 *  held-for-sign-in               a person must sign in again; one probe every holdRetrySeconds
 *  held-for-admin                 an administrator must act (SMTP AUTH off, permissions, secret,
 *                                 STARTTLS refused again and again); one probe every holdRetrySeconds
 *  waiting-for-identity-provider  Entra out of reach: ask again after identityRetrySeconds
 *  waiting-for-upstream           Microsoft 365 out of reach: connect again after upstreamRetrySeconds
 */
import type { ConditionEvent } from '../core/conditions/index.js';
import { isHeldState, type AccountState } from '../core/delivery-contracts.js';
import type { PauseIntervals } from './retry-schedule.js';

export { ACCOUNT_STATES, type AccountState } from '../core/delivery-contracts.js';

export const ACCOUNT_EVENTS = [
  'delivered',
  /** The upstream answered after AUTH (MAIL, RCPT or DATA), though this message did not go. */
  'answered',
  'throttled',
  'sign-in-refused',
  'admin-action-required',
  'identity-provider-unreachable',
  'upstream-unreachable',
  'tls-failed',
  /** The wake-up time of a pause has come. */
  'pause-ended',
  /** login, secret set, or an operator's release. */
  'released',
] as const satisfies readonly (ConditionEvent | string)[];
export type AccountEvent = (typeof ACCOUNT_EVENTS)[number];

/** When to look again: never (0), as before, or after one of the configured intervals. */
type Wake = 'none' | 'same' | 'throttle' | 'probe' | 'identity' | 'upstream';

interface Rule {
  /** 'same': stay; 'tls': waiting-for-upstream, or held-for-admin after tlsFailuresBeforeHold in a row. */
  readonly next: AccountState | 'same' | 'tls';
  readonly wake: Wake;
}

const SAME: Rule = { next: 'same', wake: 'same' };
const ACTIVE: Rule = { next: 'active', wake: 'none' };
const THROTTLE: Rule = { next: 'throttled', wake: 'throttle' };
const SIGN_IN: Rule = { next: 'held-for-sign-in', wake: 'probe' };
const ADMIN: Rule = { next: 'held-for-admin', wake: 'probe' };
const IDP: Rule = { next: 'waiting-for-identity-provider', wake: 'identity' };
const UPSTREAM: Rule = { next: 'waiting-for-upstream', wake: 'upstream' };
const TLS: Rule = { next: 'tls', wake: 'upstream' };
const PROBE_AGAIN: Rule = { next: 'same', wake: 'probe' };

/** Moving states (active, throttled, waiting) react to everything; a hold ends only by a proof that sign-in works or a release. */
const MOVING: Readonly<Record<AccountEvent, Rule>> = {
  delivered: ACTIVE,
  answered: SAME,
  throttled: THROTTLE,
  'sign-in-refused': SIGN_IN,
  'admin-action-required': ADMIN,
  'identity-provider-unreachable': IDP,
  'upstream-unreachable': UPSTREAM,
  'tls-failed': TLS,
  'pause-ended': ACTIVE,
  released: ACTIVE,
};

const HELD: Readonly<Record<AccountEvent, Rule>> = {
  delivered: ACTIVE,
  answered: ACTIVE,
  // A probe that met throttling, an outage or a TLS failure proves nothing: probe again later.
  throttled: PROBE_AGAIN,
  'sign-in-refused': SIGN_IN,
  'admin-action-required': ADMIN,
  'identity-provider-unreachable': PROBE_AGAIN,
  'upstream-unreachable': PROBE_AGAIN,
  'tls-failed': PROBE_AGAIN,
  'pause-ended': SAME,
  released: ACTIVE,
};

export const TRANSITIONS: Readonly<Record<AccountState, Readonly<Record<AccountEvent, Rule>>>> = {
  active: { ...MOVING, answered: SAME, 'pause-ended': SAME },
  throttled: { ...MOVING, answered: SAME },
  'held-for-sign-in': HELD,
  'held-for-admin': HELD,
  // Once the pause ends, sending resumes, but the state (and its "since") lasts until the far end
  // answers: an outage is measured from its first failure (status warns after a few minutes).
  'waiting-for-identity-provider': { ...MOVING, answered: ACTIVE, 'pause-ended': SAME },
  'waiting-for-upstream': { ...MOVING, answered: ACTIVE, 'pause-ended': SAME },
};

/** What status says of each state; {wakeAt} and {reason} are filled in. */
export const STATE_TEXT: Readonly<Record<AccountState, { readonly doing: string; readonly next: string }>> = {
  active: { doing: 'delivering normally', next: 'messages go as they fall due' },
  throttled: { doing: 'Exchange is throttling this mailbox: {reason}', next: 'sending resumes at {wakeAt}' },
  'held-for-sign-in': { doing: 'held until someone signs in again: {reason}', next: 'one message is tried at {wakeAt} to see whether sign-in works again' },
  'held-for-admin': { doing: 'held until an administrator acts: {reason}', next: 'one message is tried at {wakeAt} to see whether it was fixed' },
  'waiting-for-identity-provider': {
    doing: 'the identity provider (Microsoft Entra) cannot be reached, so no token: {reason}',
    next: 'a token is asked for again at {wakeAt}',
  },
  'waiting-for-upstream': { doing: 'Microsoft 365 cannot be reached: {reason}', next: 'the next connection is tried at {wakeAt}' },
};

export interface AccountMachine {
  readonly state: AccountState;
  /** When the account entered this state (ms). */
  readonly since: number;
  /** No new send before this (ms); 0 when nothing waits. */
  readonly wakeAt: number;
  /** Index into throttleBackoffSeconds; grows while throttling continues, reset by a delivery. */
  readonly throttleStep: number;
  /** STARTTLS/TLS failures in a row, reset as soon as the upstream answers after AUTH. */
  readonly tlsFailures: number;
  readonly reason?: string | undefined;
  /** The catalogue condition that put the account in this state. */
  readonly condition?: string | undefined;
}

export function initialMachine(now: number): AccountMachine {
  return { state: 'active', since: now, wakeAt: 0, throttleStep: 0, tlsFailures: 0 };
}

export interface EventInput {
  readonly now: number;
  readonly intervals: PauseIntervals;
  readonly reason?: string | undefined;
  readonly condition?: string | undefined;
  /** A condition's own pause (the daily quota: one hour) instead of the throttle backoff. */
  readonly pauseSeconds?: number | undefined;
}

export function transition(machine: AccountMachine, event: AccountEvent, input: EventInput): AccountMachine {
  const rule = TRANSITIONS[machine.state][event];
  const tlsFailures = event === 'tls-failed' ? machine.tlsFailures + 1 : resetsTls(event) ? 0 : machine.tlsFailures;
  const next = rule.next === 'same' ? machine.state : rule.next === 'tls' ? tlsState(tlsFailures, input.intervals) : rule.next;
  const wake = next === 'held-for-admin' && rule.next === 'tls' ? 'probe' : rule.wake;
  // Concurrent sends refused together are one throttling event: one step of the backoff.
  const repeatedThrottle = event === 'throttled' && machine.state === 'throttled' && input.now < machine.wakeAt && input.pauseSeconds === undefined;
  const throttleStep = event === 'delivered' || event === 'released' ? 0 : event === 'throttled' && !repeatedThrottle ? machine.throttleStep + 1 : machine.throttleStep;
  const wakeAt = repeatedThrottle ? machine.wakeAt : wakeTime(wake, machine, input);
  const entered = next !== machine.state;
  const keepsReason = next === machine.state && input.reason === undefined;
  return {
    state: next,
    since: entered ? input.now : machine.since,
    wakeAt,
    throttleStep,
    tlsFailures,
    reason: next === 'active' ? undefined : keepsReason ? machine.reason : (input.reason ?? machine.reason),
    condition: next === 'active' ? undefined : keepsReason ? machine.condition : (input.condition ?? machine.condition),
  };
}

export function isHeld(state: AccountState): boolean {
  return isHeldState(state);
}

/** States in which nothing new starts before wakeAt (a held account sends its probe then). */
export function isPaused(machine: AccountMachine, now: number): boolean {
  return machine.state !== 'active' && now < machine.wakeAt;
}

/** What status says: what is happening and what happens next, filled in. */
export function describeMachine(machine: AccountMachine): { doing: string; next: string } {
  const text = STATE_TEXT[machine.state];
  const fill = (template: string): string =>
    template
      .replace('{reason}', inSentence(machine.reason ?? 'no reason recorded'))
      .replace('{wakeAt}', machine.wakeAt > 0 ? new Date(machine.wakeAt).toISOString() : 'once something is due');
  return { doing: fill(text.doing), next: fill(text.next) };
}

/** A sentence continued after a colon: no full stop, and a lower-case start unless it is an acronym ("SMTP AUTH ..."). */
function inSentence(text: string): string {
  const trimmed = text.replace(/\.$/, '');
  return /^[A-Z][a-z]/.test(trimmed) ? `${trimmed.charAt(0).toLowerCase()}${trimmed.slice(1)}` : trimmed;
}

function resetsTls(event: AccountEvent): boolean {
  return event === 'delivered' || event === 'answered' || event === 'released';
}

function tlsState(failures: number, intervals: PauseIntervals): AccountState {
  return failures >= intervals.tlsFailuresBeforeHold ? 'held-for-admin' : 'waiting-for-upstream';
}

function wakeTime(wake: Wake, machine: AccountMachine, input: EventInput): number {
  const { now, intervals } = input;
  switch (wake) {
    case 'none':
      return 0;
    case 'same':
      return machine.wakeAt;
    case 'throttle': {
      const steps = intervals.throttleBackoffSeconds;
      const seconds = input.pauseSeconds ?? steps[Math.min(machine.throttleStep, steps.length - 1)] ?? intervals.upstreamRetrySeconds;
      return Math.max(machine.wakeAt, now + seconds * 1000);
    }
    case 'probe':
      return now + intervals.holdRetrySeconds * 1000;
    case 'identity':
      return now + intervals.identityRetrySeconds * 1000;
    case 'upstream':
      return now + intervals.upstreamRetrySeconds * 1000;
  }
}
