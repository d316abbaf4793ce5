/**
 * What one attempt's result means, decided without I/O: which recipients are delivered or
 * failed (each with its reply and the catalogue condition it was classified as, once), what
 * becomes of the message (finish, defer, keep, or retry at once with a new token), and which
 * events the account gets. The scheduler persists and applies it (message-outcomes.ts).
 */
import type { QueueRecord, RecipientState, RecordedReply } from '../core/queue-record.js';
import type { AccountEvent } from './account-states.js';
import type { SendResult, UpstreamReply } from './message-sender.js';
import { classifyReply, type Classification } from './reply-classification.js';

export interface AccountEventNote {
  readonly event: AccountEvent;
  readonly verdict?: Classification | undefined;
  readonly reply?: UpstreamReply | undefined;
}

export type MessageStep =
  /** No recipient pending: remove, or failed/ with one DSN. */
  | { readonly kind: 'finish' }
  /** Count an attempt; try again per the retry schedule. */
  | { readonly kind: 'defer'; readonly reply: UpstreamReply; readonly verdict: Classification }
  /** Not the message's fault: keep it due, count nothing; the account's state decides. */
  | { readonly kind: 'keep' }
  /** 535 5.7.3 may mean a stale token: redeem a new one and try once more before holding. */
  | { readonly kind: 'retry-with-new-token' };

export interface Outcome {
  /** The record with the recipients' new states (persisted before anything else happens). */
  readonly record: QueueRecord;
  readonly changed: boolean;
  readonly delivered: readonly string[];
  readonly response: string;
  readonly refusals: ReadonlyArray<{ readonly address: string; readonly reply: UpstreamReply; readonly verdict: Classification }>;
  readonly step: MessageStep;
  readonly events: readonly AccountEventNote[];
  /** The verdict of a failed transaction and the reply it came from, for the log. */
  readonly verdict?: Classification | undefined;
  readonly reply?: UpstreamReply | undefined;
}

export interface OutcomeInput {
  readonly record: QueueRecord;
  readonly recipients: readonly string[];
  readonly result: Extract<SendResult, { kind: 'sent' | 'rejected' | 'failed' }>;
  /** Whether this attempt already used a freshly redeemed token. */
  readonly forcedTokenRefresh: boolean;
  readonly now: string;
}

export function decideOutcome(input: OutcomeInput): Outcome {
  return input.result.kind === 'failed' ? transactionFailed(input, input.result.reply) : perRecipient(input, input.result);
}

/** The reply as the record keeps it: one line, with the condition it was classified as. */
export function recordedReply(reply: UpstreamReply, verdict: Classification, at: string): RecordedReply {
  return {
    ...(reply.code === undefined ? {} : { code: reply.code }),
    text: oneLine(reply.text),
    at,
    condition: verdict.rule,
    ...(reply.errorCode === undefined ? {} : { errorCode: reply.errorCode }),
  };
}

export function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}

function transactionFailed(input: OutcomeInput, reply: UpstreamReply): Outcome {
  const verdict = classifyReply(reply);
  const base = { delivered: [], response: '', refusals: [], verdict, reply };
  const unchanged = { ...base, record: input.record, changed: false };
  const holds = verdict.event === 'sign-in-refused' || verdict.event === 'admin-action-required';
  // Exchange answered MAIL FROM, RCPT TO or DATA, so AUTH went through: a held account's probe
  // proved that sign-in works, even when this one message is then refused or deferred.
  const answered: AccountEventNote[] = !holds && answeredAfterAuth(reply) ? [{ event: 'answered' }] : [];
  const own: AccountEventNote[] = verdict.event === 'none' || verdict.event === 'delivered' ? [] : [{ event: verdict.event, verdict, reply }];
  if (verdict.refreshTokenFirst && !input.forcedTokenRefresh) return { ...unchanged, step: { kind: 'retry-with-new-token' }, events: [] };
  switch (verdict.action) {
    case 'fail': {
      const recorded = recordedReply(reply, verdict, input.now);
      const record = withRecipients(input.record, (state) =>
        input.recipients.includes(state.address) ? { ...state, status: 'failed', lastReply: recorded } : state,
      );
      return { ...base, record, changed: true, step: { kind: 'finish' }, events: [...answered, ...own] };
    }
    case 'keep':
      return { ...unchanged, step: { kind: 'keep' }, events: [...answered, ...own] };
    case 'defer':
    case 'delivered':
      return { ...unchanged, step: { kind: 'defer', reply, verdict }, events: [...answered, ...own] };
  }
}

function perRecipient(input: OutcomeInput, result: Extract<SendResult, { kind: 'sent' | 'rejected' }>): Outcome {
  const accepted = new Set((result.kind === 'sent' ? result.accepted : []).map((address) => address.toLowerCase()));
  const response = result.kind === 'sent' ? result.response : '';
  const refusals = result.rejected.map((rejection) => ({ address: rejection.address.toLowerCase(), reply: rejection.reply, verdict: classifyReply(rejection.reply) }));
  const byAddress = new Map(refusals.map((refusal) => [refusal.address, refusal]));
  const record = withRecipients(input.record, (state) => {
    if (!input.recipients.includes(state.address)) return state;
    const key = state.address.toLowerCase();
    if (accepted.has(key)) return { ...state, status: 'delivered', lastReply: { code: 250, text: response, at: input.now, condition: 'accepted' } };
    const refusal = byAddress.get(key);
    if (refusal === undefined) return state;
    return { ...state, status: refusal.verdict.action === 'fail' ? 'failed' : 'pending', lastReply: recordedReply(refusal.reply, refusal.verdict, input.now) };
  });
  const delivered = input.recipients.filter((address) => accepted.has(address.toLowerCase()));
  // AUTH went through: a hold (this was the probe) is over; a delivery also eases throttling.
  const events: AccountEventNote[] = [{ event: delivered.length > 0 ? 'delivered' : 'answered' }];
  const base = { record, changed: true, delivered, response, refusals, events };
  const stillPending = record.recipients.some((state) => state.status === 'pending');
  const throttled = refusals.find((refusal) => refusal.verdict.event === 'throttled');
  if (throttled !== undefined && stillPending) {
    return { ...base, events: [...events, { event: 'throttled', verdict: throttled.verdict, reply: throttled.reply }], step: { kind: 'keep' } };
  }
  const deferred = refusals.find((refusal) => refusal.verdict.action !== 'fail');
  if (deferred !== undefined) return { ...base, step: { kind: 'defer', reply: deferred.reply, verdict: deferred.verdict } };
  return { ...base, step: { kind: 'finish' } };
}

function withRecipients(record: QueueRecord, change: (state: RecipientState) => RecipientState): QueueRecord {
  return { ...record, recipients: record.recipients.map(change) };
}

/** nodemailer's codes for a server reply to MAIL FROM / RCPT TO (EENVELOPE) or DATA (EMESSAGE). */
function answeredAfterAuth(reply: UpstreamReply): boolean {
  return reply.code !== undefined && (reply.errorCode === 'EENVELOPE' || reply.errorCode === 'EMESSAGE');
}
