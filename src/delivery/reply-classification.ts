/**
 * Delivery's door to the catalogue of conditions (src/core/conditions): an upstream outcome, as
 * the transport reports it, becomes the condition that decides the message's fate and the
 * account's event. Classified ONCE, when the outcome arrives; the record keeps the id.
 */
import { classify, conditionById, type Condition, type ConditionAction, type ConditionEvent } from '../core/conditions/index.js';
import type { RecordedReply } from '../core/queue-record.js';

export { enhancedCodeOf } from '../core/conditions/index.js';

/** An upstream reply or a client-side error, as nodemailer reports it. */
export interface UpstreamOutcome {
  /** Basic reply code (RFC 5321), absent for network and TLS errors. */
  readonly code?: number | undefined;
  /** The reply line(s) or the error message. */
  readonly text: string;
  /** Node or nodemailer error code such as ECONNREFUSED, ETLS, EAUTH, EENVELOPE. */
  readonly errorCode?: string | undefined;
  /** Further codes (Node's original code kept by nodemailer, e.g. DEPTH_ZERO_SELF_SIGNED_CERT). */
  readonly errorCodes?: readonly string[] | undefined;
  readonly origin?: 'smtp' | 'graph' | undefined;
  readonly httpStatus?: number | undefined;
  readonly graphCode?: string | undefined;
}

export type DeliveryAction = ConditionAction;

export interface Classification {
  readonly condition: Condition;
  readonly action: ConditionAction;
  readonly event: ConditionEvent;
  /** The condition id (stored in the record and the last error, used as the metrics label). */
  readonly rule: string;
  readonly meaning: string;
  readonly source: string;
  readonly pauseSeconds?: number | undefined;
  readonly refreshTokenFirst: boolean;
}

export function classifyReply(outcome: UpstreamOutcome): Classification {
  const errorCodes = [...(outcome.errorCode === undefined ? [] : [outcome.errorCode]), ...(outcome.errorCodes ?? [])];
  return verdictOf(
    classify({ origin: outcome.origin ?? 'smtp', code: outcome.code, text: outcome.text, errorCodes, httpStatus: outcome.httpStatus, graphCode: outcome.graphCode }),
  );
}

export function verdictOf(condition: Condition): Classification {
  return {
    condition,
    action: condition.action,
    event: condition.event,
    rule: condition.id,
    meaning: condition.meaning,
    source: condition.source,
    pauseSeconds: condition.pauseSeconds,
    refreshTokenFirst: condition.refreshTokenFirst === true,
  };
}

/**
 * The condition of a recorded reply: the stored id when there is one, else (records written
 * before the id was kept) the reply classified as it was then.
 */
export function recordedCondition(reply: Pick<RecordedReply, 'code' | 'text' | 'condition' | 'errorCode'>): Condition {
  return (
    conditionById(reply.condition) ??
    classify({ origin: 'smtp', code: reply.code, text: reply.text, errorCodes: reply.errorCode === undefined ? [] : [reply.errorCode] })
  );
}
