/**
 * What delivery tells the rest of the relay, declared once: the account states of the state
 * machine (src/delivery/account-states.ts), the snapshot `status` reads, and the observer that
 * metrics and the OS log implement. Health and the daemon read these types; none of them
 * imports delivery.
 */
import type { QueueRecord } from './queue-record.js';

export const ACCOUNT_STATES = [
  'active',
  'throttled',
  'held-for-sign-in',
  'held-for-admin',
  'waiting-for-identity-provider',
  'waiting-for-upstream',
] as const;
export type AccountState = (typeof ACCOUNT_STATES)[number];

export function isHeldState(state: string): boolean {
  return state === 'held-for-sign-in' || state === 'held-for-admin';
}

/** The last thing that went wrong for an account, with the catalogue condition it was classified as. */
export interface LastError {
  readonly at: string;
  readonly id?: string | undefined;
  /** The reply line or error message, as received. */
  readonly text: string;
  /** Catalogue condition id (src/core/conditions). */
  readonly condition: string;
  readonly errorCode?: string | undefined;
}

export interface AccountSnapshot {
  readonly account: string;
  readonly mailbox: string;
  readonly state: AccountState;
  /** Why the account is in this state: the condition's sentence and the reply. */
  readonly reason?: string | undefined;
  /** The catalogue condition that put it there. */
  readonly condition?: string | undefined;
  /** Since when it is in this state (ISO 8601). */
  readonly since?: string | undefined;
  /** What status says: what is happening, and what happens next and when. */
  readonly doing: string;
  readonly next: string;
  readonly inFlight: number;
  /** Messages known to the scheduler for this account, in flight included. */
  readonly queued: number;
  /** Earliest time something will really be tried (ISO 8601), when anything is waiting. */
  readonly nextAttemptAt?: string | undefined;
  readonly lastDelivery?: { readonly at: string; readonly id: string; readonly response: string } | undefined;
  readonly lastError?: LastError | undefined;
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

export interface AccountStateChange {
  readonly account: string;
  readonly previous: AccountState;
  readonly state: AccountState;
  readonly reason?: string | undefined;
  readonly condition?: string | undefined;
}

/** What the scheduler reports to whoever counts or warns (metrics, the OS log); calls must not throw. */
export interface DeliveryObserver {
  /** Every recipient delivered; the record is removed from the queue. */
  delivered(record: QueueRecord, now: number): void;
  /** An attempt counted and the record scheduled again; `reason` is the condition id. */
  deferred(record: QueueRecord, reason: string): void;
  /** Moved to failed/; `reason` is the condition id ("expired" for 4.4.7). */
  failed(record: QueueRecord, reason: string): void;
  /** The account changed state (held, waiting, back to active). */
  accountStateChanged?(change: AccountStateChange): void;
}
