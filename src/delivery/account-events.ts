/**
 * Applies an account event to a lane: the pure transition (account-states.ts), the last error
 * with its condition, and the log line and observer call when the state changes. A hold is
 * loud (an error line; the daemon also writes an OS log warning from the observer).
 */
import { classify, type Condition } from '../core/conditions/index.js';
import type { DeliveryObserver } from '../core/delivery-contracts.js';
import type { Logger } from '../core/logger.js';
import type { Lane } from './account-lane.js';
import { isHeld, transition, type AccountEvent } from './account-states.js';
import type { UpstreamReply } from './message-sender.js';
import { oneLine } from './recipient-outcome.js';
import type { PauseIntervals } from './retry-schedule.js';

export interface EventDetail {
  readonly condition?: Condition | undefined;
  readonly reply?: UpstreamReply | undefined;
  /** The message the event came from. */
  readonly id?: string | undefined;
}

export interface EventContext {
  readonly now: number;
  readonly intervals: PauseIntervals;
  readonly logger: Logger;
  readonly observer?: DeliveryObserver | undefined;
}

/** The condition of a token-provider failure: a person must act, or the provider is out of reach. */
export function identityCondition(reason: string, personMustAct: boolean): Condition {
  return classify({ origin: 'identity', text: reason, personMustAct });
}

export function applyEvent(lane: Lane, event: AccountEvent, detail: EventDetail, context: EventContext): void {
  const { condition, reply } = detail;
  // An app-only account has no person to sign in: whatever refuses its credentials, an administrator fixes.
  const effective: AccountEvent = event === 'sign-in-refused' && lane.account.auth.method === 'client-credentials' ? 'admin-action-required' : event;
  const text = reply === undefined ? undefined : oneLine(reply.text);
  // "<the condition's sentence> (<the reply>)", the reply only when the sentence does not carry it.
  const reason = condition === undefined ? undefined : text === undefined || condition.meaning.includes(text) ? condition.meaning : `${condition.meaning.replace(/\.$/, '')} (${text})`;
  if (condition !== undefined && text !== undefined) {
    lane.lastError = { at: context.now, id: detail.id, text, condition: condition.id, errorCode: reply?.errorCode };
  }
  // A new login or secret: the error that held the account is history, and status must not show it as current.
  if (event === 'released') lane.lastError = undefined;
  const before = lane.machine;
  lane.machine = transition(before, effective, { now: context.now, intervals: context.intervals, reason, condition: condition?.id, pauseSeconds: reply?.retryAfterSeconds ?? condition?.pauseSeconds });
  const after = lane.machine;
  if (after.state === before.state) return;
  const fields = { account: lane.account.name, mailbox: lane.account.mailbox, previous: before.state, state: after.state, condition: after.condition, reason: after.reason, wakeAt: after.wakeAt === 0 ? undefined : new Date(after.wakeAt).toISOString() };
  if (isHeld(after.state)) {
    const tls = event === 'tls-failed';
    context.logger.error(
      fields,
      tls
        ? `account held: STARTTLS/TLS to the upstream failed ${after.tlsFailures} times in a row; nothing is sent without TLS; messages stay queued`
        : after.state === 'held-for-sign-in'
          ? 'account held: nothing is sent until someone signs in again; messages stay queued'
          : 'account held: an administrator must act before anything is sent; messages stay queued',
    );
  } else if (after.state === 'active') {
    context.logger.info(fields, isHeld(before.state) ? 'sign-in works again; hold lifted' : 'account active again');
  } else {
    context.logger.warn(fields, after.state === 'throttled' ? 'account paused' : `account ${after.state}`);
  }
  context.observer?.accountStateChanged?.({ account: lane.account.name, previous: before.state, state: after.state, reason: after.reason, condition: after.condition });
}
