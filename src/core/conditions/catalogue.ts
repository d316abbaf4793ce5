/**
 * THE catalogue: one ordered list (first matching row wins), in the manner of ZoneMTA's
 * bounces.txt but typed. Delivery classifies each outcome here once and stores the condition id
 * in the queue record and the last error; metrics, DSNs, status and doctor read it back by id
 * (conditionById) and never classify again. docs/exchange-replies.md lists every row's source.
 */
import { ENTRA_CONDITIONS, IDENTITY_FALLBACK_CONDITIONS } from './entra-conditions.js';
import { GRAPH_CONDITIONS } from './graph-conditions.js';
import { SMTP_CODE_CONDITIONS, SMTP_SPECIFIC_CONDITIONS } from './smtp-conditions.js';
import { SOURCES } from './sources.js';
import { NETWORK_CONDITIONS, TLS_CONDITIONS } from './transport-conditions.js';
import type { Condition, ConditionMatch, Observation } from './types.js';

/** RFC 3463 4.4.7: the relay gave up when the queue lifetime ended. */
export const EXPIRED_STATUS = '4.4.7';

const LOCAL_CONDITIONS: readonly Condition[] = [
  {
    id: 'expired',
    when: { origin: 'local', noReply: true, text: /^4\.4\.7\b/ },
    action: 'fail',
    event: 'none',
    meaning: 'The relay could not deliver the message before its queue lifetime ended (RFC 3463 4.4.7, delivery time expired).',
    fix: 'Look at the last reply of the message (smtp-oauth-relay queue show ID); delivery.maxQueueLifetimeHours sets the lifetime.',
    source: `${SOURCES.rfc3463}; RFC 5321 4.5.4.1 (give-up time)`,
  },
  {
    id: 'local-error',
    action: 'keep',
    event: 'none',
    meaning: 'The relay could not record a delivery step on disk; it tries again shortly.',
    fix: 'Check the free space and permissions of the data folder, and the log.',
    source: 'The relay itself (the spool must be written before the next step)',
  },
];

const UNKNOWN: Condition = {
  id: 'unknown',
  when: {},
  action: 'defer',
  event: 'none',
  meaning: 'Unexpected error while sending; the relay retries later.',
  source: 'Conservative default: never lose or bounce a message on an unknown error',
};

export const CONDITIONS: readonly Condition[] = [
  ...LOCAL_CONDITIONS,
  ...ENTRA_CONDITIONS,
  // Graph rows only match Graph observations (and HTTP 429 from any HTTP upstream).
  ...GRAPH_CONDITIONS,
  ...SMTP_SPECIFIC_CONDITIONS,
  ...TLS_CONDITIONS,
  ...IDENTITY_FALLBACK_CONDITIONS,
  ...SMTP_CODE_CONDITIONS,
  ...NETWORK_CONDITIONS,
  UNKNOWN,
];

const BY_ID = new Map(CONDITIONS.map((condition) => [condition.id, condition]));

/** A condition by its stored id; undefined for an id this version does not know. */
export function conditionById(id: string | undefined): Condition | undefined {
  return id === undefined ? undefined : BY_ID.get(id);
}

/** The condition of an observation. The last row matches everything, so there always is one. */
export function classify(observation: Observation): Condition {
  const facts = normalize(observation);
  return CONDITIONS.find((condition) => conditionMatches(condition, facts)) ?? UNKNOWN;
}

/** "550 5.7.60 Client ..." -> "5.7.60"; also finds "#5.7.60" inside longer texts. */
export function enhancedCodeOf(text: string): string | undefined {
  const found = /(?:^|[\s#-])([245]\.\d{1,3}\.\d{1,3})(?=\s|$|[;:,.)\]])/.exec(text);
  return found?.[1];
}

/** The first AADSTS code in a text, e.g. "AADSTS7000215". */
export function aadstsCodeOf(text: string | undefined): string | undefined {
  const match = text === undefined ? null : /\bAADSTS(\d+)\b/.exec(text);
  return match?.[1] === undefined ? undefined : `AADSTS${match[1]}`;
}

interface Facts extends Observation {
  readonly enhanced: string | undefined;
  readonly codes: ReadonlySet<string>;
}

function normalize(observation: Observation): Facts {
  return {
    ...observation,
    aadsts: observation.aadsts ?? aadstsCodeOf(observation.text),
    enhanced: enhancedCodeOf(observation.text),
    codes: new Set(observation.errorCodes ?? []),
  };
}

function conditionMatches(condition: Condition, facts: Facts): boolean {
  const when = condition.when;
  if (when === undefined) return false;
  if ('any' in when) return when.any.some((match) => matches(match, facts));
  return matches(when, facts);
}

function matches(match: ConditionMatch, facts: Facts): boolean {
  if (match.origin !== undefined && facts.origin !== match.origin) return false;
  if (match.noReply === true && facts.code !== undefined) return false;
  if (match.codes !== undefined && !within(facts.code, match.codes)) return false;
  if (match.httpStatus !== undefined && !within(facts.httpStatus, match.httpStatus)) return false;
  if (match.enhanced !== undefined && (facts.enhanced === undefined || !match.enhanced.test(facts.enhanced))) return false;
  if (match.text !== undefined && !match.text.test(facts.text)) return false;
  if (match.errorCodes !== undefined && !match.errorCodes.some((code) => facts.codes.has(code))) return false;
  if (match.aadsts !== undefined && (facts.aadsts === undefined || !match.aadsts.includes(facts.aadsts))) return false;
  if (match.oauthErrors !== undefined && (facts.oauthError === undefined || !match.oauthErrors.includes(facts.oauthError))) return false;
  if (match.graphCodes !== undefined && (facts.graphCode === undefined || !match.graphCodes.includes(facts.graphCode))) return false;
  if (match.personMustAct !== undefined && (facts.personMustAct === true) !== match.personMustAct) return false;
  return true;
}

function within(value: number | undefined, range: readonly [number, number]): boolean {
  return value !== undefined && value >= range[0] && value <= range[1];
}
