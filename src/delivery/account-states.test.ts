import { describe, expect, it } from 'vitest';
import { ACCOUNT_STATES } from '../core/delivery-contracts.js';
import { ACCOUNT_EVENTS, describeMachine, initialMachine, isHeld, transition, TRANSITIONS, type AccountEvent, type AccountMachine, type AccountState } from './account-states.js';
import type { PauseIntervals } from './retry-schedule.js';

const intervals: PauseIntervals = {
  throttleBackoffSeconds: [30, 60],
  holdRetrySeconds: 300,
  identityRetrySeconds: 60,
  upstreamRetrySeconds: 45,
  tlsFailuresBeforeHold: 3,
  localErrorRetrySeconds: 60,
};
const NOW = Date.UTC(2026, 10, 22, 9, 0, 0);
const S = 1000;

/** The expected (next state, wake-up delay in seconds from now; null: unchanged; 0: none) of every state and event. */
const EXPECTED: Record<AccountState, Record<AccountEvent, [AccountState, number | null]>> = {
  active: {
    delivered: ['active', 0],
    answered: ['active', null],
    throttled: ['throttled', 30],
    'sign-in-refused': ['held-for-sign-in', 300],
    'admin-action-required': ['held-for-admin', 300],
    'identity-provider-unreachable': ['waiting-for-identity-provider', 60],
    'upstream-unreachable': ['waiting-for-upstream', 45],
    'tls-failed': ['waiting-for-upstream', 45],
    'pause-ended': ['active', null],
    released: ['active', 0],
  },
  throttled: {
    delivered: ['active', 0],
    answered: ['throttled', null],
    throttled: ['throttled', null],
    'sign-in-refused': ['held-for-sign-in', 300],
    'admin-action-required': ['held-for-admin', 300],
    'identity-provider-unreachable': ['waiting-for-identity-provider', 60],
    'upstream-unreachable': ['waiting-for-upstream', 45],
    'tls-failed': ['waiting-for-upstream', 45],
    'pause-ended': ['active', 0],
    released: ['active', 0],
  },
  'held-for-sign-in': {
    delivered: ['active', 0],
    answered: ['active', 0],
    throttled: ['held-for-sign-in', 300],
    'sign-in-refused': ['held-for-sign-in', 300],
    'admin-action-required': ['held-for-admin', 300],
    'identity-provider-unreachable': ['held-for-sign-in', 300],
    'upstream-unreachable': ['held-for-sign-in', 300],
    'tls-failed': ['held-for-sign-in', 300],
    'pause-ended': ['held-for-sign-in', null],
    released: ['active', 0],
  },
  'held-for-admin': {
    delivered: ['active', 0],
    answered: ['active', 0],
    throttled: ['held-for-admin', 300],
    'sign-in-refused': ['held-for-sign-in', 300],
    'admin-action-required': ['held-for-admin', 300],
    'identity-provider-unreachable': ['held-for-admin', 300],
    'upstream-unreachable': ['held-for-admin', 300],
    'tls-failed': ['held-for-admin', 300],
    'pause-ended': ['held-for-admin', null],
    released: ['active', 0],
  },
  'waiting-for-identity-provider': {
    delivered: ['active', 0],
    answered: ['active', 0],
    throttled: ['throttled', 30],
    'sign-in-refused': ['held-for-sign-in', 300],
    'admin-action-required': ['held-for-admin', 300],
    'identity-provider-unreachable': ['waiting-for-identity-provider', 60],
    'upstream-unreachable': ['waiting-for-upstream', 45],
    'tls-failed': ['waiting-for-upstream', 45],
    'pause-ended': ['waiting-for-identity-provider', null],
    released: ['active', 0],
  },
  'waiting-for-upstream': {
    delivered: ['active', 0],
    answered: ['active', 0],
    throttled: ['throttled', 30],
    'sign-in-refused': ['held-for-sign-in', 300],
    'admin-action-required': ['held-for-admin', 300],
    'identity-provider-unreachable': ['waiting-for-identity-provider', 60],
    'upstream-unreachable': ['waiting-for-upstream', 45],
    'tls-failed': ['waiting-for-upstream', 45],
    'pause-ended': ['waiting-for-upstream', null],
    released: ['active', 0],
  },
};

function inState(state: AccountState): AccountMachine {
  // Wakes in 10 s: a throttled account mid-pause; reason and condition set.
  return { ...initialMachine(NOW - 100 * S), state, since: NOW - 100 * S, wakeAt: state === 'active' ? 0 : NOW + 10 * S, reason: 'before', condition: 'before' };
}

describe('the account state table', () => {
  it('has a rule for every state and event', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...ACCOUNT_STATES].sort());
    for (const state of ACCOUNT_STATES) expect(Object.keys(TRANSITIONS[state]).sort()).toEqual([...ACCOUNT_EVENTS].sort());
  });

  const cases = ACCOUNT_STATES.flatMap((state) => ACCOUNT_EVENTS.map((event) => [state, event] as const));
  it.each(cases)('%s + %s', (state, event) => {
    const before = inState(state);
    const after = transition(before, event, { now: NOW, intervals, reason: 'why', condition: 'cond' });
    const [next, wakeSeconds] = EXPECTED[state][event];
    expect(after.state).toBe(next);
    expect(after.wakeAt).toBe(wakeSeconds === null ? before.wakeAt : wakeSeconds === 0 ? 0 : NOW + wakeSeconds * S);
    expect(after.since).toBe(next === state ? before.since : NOW);
    if (next === 'active') expect(after.reason).toBeUndefined();
    else expect(after.reason).toBe('why');
    // Every state says what happens and what comes next, without "undefined" or a doubled full stop.
    const said = describeMachine(after);
    expect(`${said.doing} ${said.next}`).not.toMatch(/undefined|\.\.|\{/);
  });

  it('holds the account after tlsFailuresBeforeHold STARTTLS failures in a row, and an answer resets the count', () => {
    let machine = initialMachine(NOW);
    const at = (seconds: number) => ({ now: NOW + seconds * S, intervals, reason: 'STARTTLS refused', condition: 'starttls-failed' });
    machine = transition(machine, 'tls-failed', at(0));
    expect(machine).toMatchObject({ state: 'waiting-for-upstream', tlsFailures: 1, wakeAt: NOW + 45 * S });
    machine = transition(transition(machine, 'pause-ended', at(45)), 'tls-failed', at(45));
    expect(machine).toMatchObject({ state: 'waiting-for-upstream', tlsFailures: 2 });
    machine = transition(transition(machine, 'pause-ended', at(90)), 'tls-failed', at(90));
    expect(machine).toMatchObject({ state: 'held-for-admin', tlsFailures: 3, wakeAt: NOW + 390 * S, condition: 'starttls-failed' });
    expect(isHeld(machine.state)).toBe(true);
    machine = transition(machine, 'answered', at(400));
    expect(machine).toMatchObject({ state: 'active', tlsFailures: 0 });
  });

  it('grows the throttle pause while throttling continues, counts refusals that arrive together once, and resets on a delivery', () => {
    const at = (seconds: number, pauseSeconds?: number) => ({ now: NOW + seconds * S, intervals, pauseSeconds });
    let machine = transition(initialMachine(NOW), 'throttled', at(0));
    expect(machine).toMatchObject({ wakeAt: NOW + 30 * S, throttleStep: 1 });
    machine = transition(machine, 'throttled', at(1));
    expect(machine).toMatchObject({ wakeAt: NOW + 30 * S, throttleStep: 1 });
    machine = transition(transition(machine, 'pause-ended', at(30)), 'throttled', at(30));
    expect(machine).toMatchObject({ wakeAt: NOW + 90 * S, throttleStep: 2 });
    machine = transition(machine, 'throttled', at(31, 3600));
    expect(machine.wakeAt).toBe(NOW + 3631 * S);
    expect(transition(machine, 'delivered', at(40)).throttleStep).toBe(0);
  });
});
