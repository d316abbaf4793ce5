/**
 * What an upstream outcome means for the message and the account, decided by ONE ordered table
 * (first matching row wins), in the manner of ZoneMTA's bounces.txt. Each row cites its source and
 * carries the one-sentence meaning that logs, `status` and delivery status notifications show.
 *
 * Sources:
 *   M365.md            /work/shared/M365.md ("Exchange Online limits and replies", "SMTP submission")
 *   MS-NDR             https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/non-delivery-reports-in-exchange-online
 *   MS-SMTP-AUTH       https://aka.ms/smtp_auth_disabled
 *   RFC 3463           Enhanced Mail System Status Codes (class 4 = persistent transient, 5 = permanent)
 *   RFC 5321 4.2.1     Reply codes: 2yz completion, 4yz transient negative, 5yz permanent negative
 */

/**
 * delivered: the upstream took it.
 * defer: try again later per the retry schedule (counts an attempt).
 * fail: permanent; the recipient fails and the sender gets a DSN.
 * throttle: slow the account down; keep the message due and count no attempt.
 * reauthenticate: hold the account's queue until credentials or tenant settings are fixed.
 */
export type DeliveryAction = 'delivered' | 'defer' | 'fail' | 'throttle' | 'reauthenticate';

/** An upstream reply or a client-side error, as nodemailer reports it. */
export interface UpstreamOutcome {
  /** Basic reply code (RFC 5321), absent for network and TLS errors. */
  readonly code?: number | undefined;
  /** The reply line(s) or the error message. */
  readonly text: string;
  /** Node or nodemailer error code such as ECONNREFUSED, ETLS, EAUTH, EENVELOPE. */
  readonly errorCode?: string | undefined;
  /** Already decided by another upstream's table (Microsoft Graph: delivery/graph/graph-conditions.ts). */
  readonly classification?: Classification | undefined;
}

interface Match {
  /** Inclusive range of basic reply codes. */
  readonly codes?: readonly [number, number];
  /** Tested against the enhanced status code parsed from the text ("5.7.60"). */
  readonly enhanced?: RegExp;
  /** Tested against the reply text. */
  readonly text?: RegExp;
  /** Any of these error codes (or the original code nodemailer kept). */
  readonly errorCodes?: readonly string[];
  /** Only outcomes without a reply code (network/TLS/client errors). */
  readonly noReply?: true;
}

export interface ReplyRule {
  readonly id: string;
  /** Every given criterion must hold; a row with `any` matches when one of its alternatives does. */
  readonly when: Match | { readonly any: readonly Match[] };
  readonly action: DeliveryAction;
  /** One sentence for logs, `status` and DSNs. */
  readonly meaning: string;
  readonly source: string;
  /** For throttle: pause this long instead of the account's growing backoff. */
  readonly pauseSeconds?: number;
  /** For reauthenticate: retry once with a freshly redeemed token before holding the account. */
  readonly refreshTokenFirst?: true;
}

export interface Classification {
  readonly action: DeliveryAction;
  readonly rule: string;
  readonly meaning: string;
  readonly source: string;
  readonly pauseSeconds?: number | undefined;
  readonly refreshTokenFirst: boolean;
  /** Enhanced status code found in the reply, if any. */
  readonly enhancedCode?: string | undefined;
}

const NETWORK_ERRORS = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ESOCKET',
  'ECONNECTION',
  'EDNS',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPROTOCOL',
] as const;

/** Ordered: specific Exchange texts first, then reply classes, then client-side errors. */
export const REPLY_RULES: readonly ReplyRule[] = [
  {
    id: 'accepted',
    when: { codes: [200, 299] },
    action: 'delivered',
    meaning: 'Microsoft 365 accepted the message.',
    source: 'RFC 5321 4.2.1 (2yz: requested action completed)',
  },
  {
    id: 'concurrent-connections',
    when: { text: /Concurrent connections limit exceeded/i },
    action: 'throttle',
    meaning: 'Exchange Online refused a 4th simultaneous connection for this mailbox (limit 3); the relay slows down.',
    source: 'M365.md: "432 4.3.2 Concurrent connections limit exceeded"',
  },
  {
    id: 'sender-thread-limit',
    when: { text: /sender thread limit exceeded/i },
    action: 'throttle',
    meaning: 'Exchange Online is throttling submissions from this mailbox; the relay slows down.',
    source: 'M365.md: "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded"',
  },
  {
    id: 'daily-recipient-quota',
    when: { text: /SubmissionQuotaExceededException/i },
    action: 'throttle',
    pauseSeconds: 3600,
    meaning:
      'The mailbox reached its daily limit of 10,000 recipients; messages wait in the queue and are retried hourly until the 24-hour window frees up.',
    source: 'M365.md: "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"',
  },
  {
    id: 'continuous-error-throttling',
    when: { enhanced: /^5\.2\.25[1-5]$/ },
    action: 'throttle',
    meaning: 'Exchange Online temporarily blocks this sender after too many errors; the relay pauses the account.',
    source: 'M365.md / MS-NDR: "550 5.2.251" to "5.2.255" continuous-error throttling',
  },
  {
    id: 'smtp-auth-disabled',
    when: { any: [{ enhanced: /^5\.7\.139$/ }, { text: /SmtpClientAuthentication is disabled/i }] },
    action: 'reauthenticate',
    meaning:
      'SMTP AUTH is disabled for this tenant or mailbox; an administrator must enable it (Set-CASMailbox -SmtpClientAuthenticationDisabled $false), see https://aka.ms/smtp_auth_disabled.',
    source: 'M365.md / MS-SMTP-AUTH: "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"',
  },
  {
    id: 'authentication-unsuccessful',
    when: { any: [{ enhanced: /^5\.7\.3$/ }, { codes: [535, 535] }] },
    action: 'reauthenticate',
    refreshTokenFirst: true,
    meaning:
      'Microsoft 365 refused the OAuth token even after a refresh; check the app permission (SMTP.Send / SMTP.SendAsApp), the mailbox permission and the sign-in.',
    source: 'M365.md: "535 5.7.3 Authentication unsuccessful"',
  },
  {
    id: 'send-as-denied',
    when: { any: [{ enhanced: /^5\.7\.60$/ }, { text: /SendAsDenied/i }] },
    action: 'fail',
    meaning: 'The mailbox has no permission to send as this sender address (SendAsDenied).',
    source: 'M365.md / MS-NDR: "5.7.60 Client does not have permissions to send as this sender"',
  },
  {
    id: 'tenant-or-ip-blocked',
    when: { enhanced: /^5\.7\.(705|708|750)$/ },
    action: 'reauthenticate',
    meaning:
      'Microsoft 365 blocks sending for this tenant or IP address; an administrator must resolve it with Microsoft before mail can flow.',
    source: 'M365.md / MS-NDR: 5.7.705, 5.7.708, 5.7.750',
  },
  {
    id: 'tls-version',
    when: { enhanced: /^4\.7\.66$/ },
    action: 'defer',
    meaning: 'The server refused the TLS version; it requires TLS 1.2 or later.',
    source: 'M365.md: "421 4.7.66 is about TLS 1.0/1.1, not throttling"',
  },
  {
    id: 'throttled-4.3.2',
    when: { codes: [432, 432] },
    action: 'throttle',
    meaning: 'Exchange Online asked the relay to slow down (4.3.2).',
    source: 'M365.md: 432 4.3.2 replies are Exchange throttling',
  },
  {
    id: 'transient',
    when: { codes: [400, 499] },
    action: 'defer',
    meaning: 'Temporary failure at Microsoft 365; the relay retries later.',
    source: 'RFC 5321 4.2.1 / RFC 3463 (class 4: persistent transient failure)',
  },
  {
    id: 'permanent',
    when: { codes: [500, 599] },
    action: 'fail',
    meaning: 'Microsoft 365 refused the message permanently.',
    source: 'RFC 5321 4.2.1 / RFC 3463 (class 5: permanent failure)',
  },
  {
    id: 'tls-error',
    when: { noReply: true, errorCodes: ['ETLS'] },
    action: 'defer',
    meaning: 'The TLS handshake with Microsoft 365 failed (untrusted certificate or protocol); the relay retries later.',
    source: 'RFC 3207 (STARTTLS); nodemailer ETLS',
  },
  {
    id: 'network-error',
    when: { noReply: true, errorCodes: NETWORK_ERRORS },
    action: 'defer',
    meaning: 'Microsoft 365 could not be reached or the connection broke; the relay retries later.',
    source: 'Node.js socket errors / nodemailer ECONNECTION, ESOCKET',
  },
  {
    id: 'auth-not-possible',
    when: { noReply: true, errorCodes: ['EAUTH', 'EOAUTH2'] },
    action: 'reauthenticate',
    meaning: 'The relay could not authenticate to Microsoft 365 (no usable token or XOAUTH2 not offered).',
    source: 'M365.md: SMTP submission requires AUTH XOAUTH2 after STARTTLS',
  },
  {
    id: 'unknown',
    when: {},
    action: 'defer',
    meaning: 'Unexpected error while sending; the relay retries later.',
    source: 'Conservative default: never lose or bounce a message on an unknown error',
  },
];

/** "550 5.7.60 Client ..." -> "5.7.60"; also finds "#5.7.60" inside longer texts. */
export function enhancedCodeOf(text: string): string | undefined {
  const found = /(?:^|[\s#-])([245]\.\d{1,3}\.\d{1,3})(?=\s|$|[;:,.)\]])/.exec(text);
  return found?.[1];
}

export function classifyReply(outcome: UpstreamOutcome): Classification {
  if (outcome.classification !== undefined) return outcome.classification;
  const enhanced = enhancedCodeOf(outcome.text);
  const rule = REPLY_RULES.find((row) => ruleMatches(row, outcome, enhanced));
  // The last row matches everything, so this is unreachable; a guard keeps the types honest.
  if (rule === undefined) throw new Error('reply table has no catch-all row');
  return {
    action: rule.action,
    rule: rule.id,
    meaning: rule.meaning,
    source: rule.source,
    pauseSeconds: rule.pauseSeconds,
    refreshTokenFirst: rule.refreshTokenFirst === true,
    enhancedCode: enhanced,
  };
}

function ruleMatches(rule: ReplyRule, outcome: UpstreamOutcome, enhanced: string | undefined): boolean {
  if ('any' in rule.when) return rule.when.any.some((match) => matches(match, outcome, enhanced));
  return matches(rule.when, outcome, enhanced);
}

function matches(match: Match, outcome: UpstreamOutcome, enhanced: string | undefined): boolean {
  if (match.noReply === true && outcome.code !== undefined) return false;
  if (match.codes !== undefined) {
    if (outcome.code === undefined || outcome.code < match.codes[0] || outcome.code > match.codes[1]) return false;
  }
  if (match.enhanced !== undefined && (enhanced === undefined || !match.enhanced.test(enhanced))) return false;
  if (match.text !== undefined && !match.text.test(outcome.text)) return false;
  if (match.errorCodes !== undefined && (outcome.errorCode === undefined || !match.errorCodes.includes(outcome.errorCode))) {
    return false;
  }
  return true;
}
