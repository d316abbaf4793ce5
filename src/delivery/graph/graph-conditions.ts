/**
 * What Microsoft Graph's answers mean for a message and its account: ONE ordered table (first
 * matching row wins), shaped like the SMTP reply table (reply-classification.ts) so that both can
 * become rows of one catalogue. Each row: a matcher (HTTP status and/or Graph error code), an
 * action, a one-sentence meaning, the fix an administrator applies, the SMTP reply it stands for
 * (what queue records and delivery status notifications show) and its Microsoft Learn source.
 *
 * Sources:
 *   GRAPH-ERRORS    https://learn.microsoft.com/graph/errors
 *   GRAPH-THROTTLE  https://learn.microsoft.com/graph/throttling and
 *                   https://learn.microsoft.com/graph/throttling-limits ("Outlook service limits")
 *   SENDMAIL        https://learn.microsoft.com/graph/api/user-sendmail
 *   RBAC-APPS       https://learn.microsoft.com/exchange/permissions-exo/application-rbac
 *   ACCESS-POLICY   https://learn.microsoft.com/graph/auth-limit-mailbox-access
 *   REST-MAILBOX    https://learn.microsoft.com/graph/api/resources/mail-api-overview
 *                   (mailboxes must be in Exchange Online, not on-premises, inactive or soft-deleted)
 */
import type { Classification } from '../reply-classification.js';

/**
 * defer: retry on the schedule. fail: the recipients fail and the sender gets one DSN.
 * hold-for-admin: hold the account until an administrator fixes the tenant (probe every holdRetrySeconds).
 * hold-for-sign-in: redeem a new token once, then hold until the credentials work.
 * throttle: pause the account for Retry-After (or the growing backoff) without counting an attempt.
 */
export type GraphAction = 'defer' | 'fail' | 'hold-for-admin' | 'hold-for-sign-in' | 'throttle';

export interface GraphCondition {
  readonly id: string;
  /** Every given criterion must hold. `status` absent: any status (or none, for network errors). */
  readonly when: { readonly status?: readonly number[]; readonly code?: RegExp; readonly network?: true };
  readonly action: GraphAction;
  readonly meaning: string;
  readonly fix?: string;
  /** The SMTP reply this stands for: basic code and enhanced status (RFC 3463). */
  readonly smtp: readonly [number, string];
  readonly source: string;
}

/** What Graph answered (or that it could not be reached). */
export interface GraphOutcome {
  /** HTTP status; absent for network and TLS errors. */
  readonly status?: number | undefined;
  /** Graph's error.code ("ErrorSendAsDenied"), or Node's error code for network errors. */
  readonly code?: string | undefined;
  readonly message: string;
  /** Retry-After in seconds, when Graph sent one. */
  readonly retryAfterSeconds?: number | undefined;
}

/** Ordered: specific Graph error codes first, then status classes, then network errors. */
export const GRAPH_CONDITIONS: readonly GraphCondition[] = [
  {
    id: 'graph-send-as-denied',
    when: { code: /^ErrorSendAsDenied$/ },
    action: 'fail',
    meaning: 'The mailbox has no permission to send as this sender address (ErrorSendAsDenied).',
    fix: 'Give the mailbox Send As on the sender (Add-RecipientPermission <sender> -AccessRights SendAs -Trustee <mailbox>), or send as the mailbox itself.',
    smtp: [550, '5.7.60'],
    source: 'GRAPH-ERRORS / SENDMAIL: 403 ErrorSendAsDenied',
  },
  {
    id: 'graph-invalid-recipients',
    when: { code: /^ErrorInvalidRecipients$/ },
    action: 'fail',
    meaning: 'Microsoft Graph refused the recipients as invalid (ErrorInvalidRecipients).',
    smtp: [550, '5.1.3'],
    source: 'GRAPH-ERRORS / SENDMAIL: 400 ErrorInvalidRecipients',
  },
  {
    id: 'graph-message-too-large',
    when: { code: /^(ErrorMessageSizeExceeded|RequestEntityTooLarge|ErrorRequestEntityTooLarge|ErrorAttachmentSizeTooLarge)$/ },
    action: 'fail',
    meaning: 'The message is larger than the mailbox may send (Exchange: 35 MB by default, up to 150 MB).',
    fix: 'Raise the mailbox MaxSendSize (Set-Mailbox <mailbox> -MaxSendSize 150MB) or send a smaller message.',
    smtp: [552, '5.3.4'],
    source: 'GRAPH-ERRORS; https://learn.microsoft.com/graph/outlook-large-attachments',
  },
  {
    id: 'graph-mailbox-not-rest',
    when: { code: /^(MailboxNotEnabledForRESTAPI|MailboxNotSupportedForRESTAPI)$/ },
    action: 'hold-for-admin',
    meaning: 'The mailbox cannot be used through Graph: it is inactive, soft-deleted, unlicensed or hosted on-premises (MailboxNotEnabledForRESTAPI).',
    fix: 'Give the user an Exchange Online licence and a cloud mailbox, or use upstream "smtp" for an on-premises mailbox.',
    smtp: [451, '4.7.0'],
    source: 'GRAPH-ERRORS / REST-MAILBOX: 404 MailboxNotEnabledForRESTAPI',
  },
  {
    id: 'graph-unknown-mailbox',
    when: { code: /^(ErrorInvalidUser|ResourceNotFound|Request_ResourceNotFound)$/, status: [404] },
    action: 'hold-for-admin',
    meaning: 'Microsoft Graph does not know this mailbox.',
    fix: 'Check the account\'s "mailbox" in the configuration (the user principal name or primary address).',
    smtp: [451, '4.7.0'],
    source: 'GRAPH-ERRORS: 404 ErrorInvalidUser',
  },
  {
    id: 'graph-mailbox-full',
    when: { code: /^ErrorQuotaExceeded$/ },
    action: 'hold-for-admin',
    meaning: 'The mailbox is full, so Graph cannot create the message in it (ErrorQuotaExceeded).',
    fix: 'Free space in the mailbox (Sent Items, Deleted Items) or raise its quota.',
    smtp: [452, '4.2.2'],
    source: 'GRAPH-ERRORS: ErrorQuotaExceeded',
  },
  {
    id: 'graph-upload-budget',
    when: { code: /^UploadBudgetUsedUp$/ },
    action: 'throttle',
    meaning: 'This mailbox used its Graph upload budget (150 MB in 5 minutes); the relay starts the next message when it fits.',
    smtp: [432, '4.3.2'],
    source: 'GRAPH-THROTTLE: Outlook service limits, 150 MB upload (PATCH, POST, PUT) in 5 minutes per app and mailbox (checked by the relay before it sends)',
  },
  {
    id: 'graph-throttled',
    when: { status: [429] },
    action: 'throttle',
    meaning: 'Microsoft Graph is throttling this mailbox (429); the relay waits as long as Retry-After says.',
    smtp: [432, '4.3.2'],
    source: 'GRAPH-THROTTLE: 429 Too Many Requests with Retry-After; 4 concurrent requests per mailbox',
  },
  {
    id: 'graph-unavailable-retry-after',
    when: { status: [503] },
    action: 'throttle',
    meaning: 'Microsoft Graph is busy (503); the relay waits as long as Retry-After says.',
    smtp: [432, '4.3.2'],
    source: 'GRAPH-THROTTLE: 503 Service Unavailable with Retry-After',
  },
  {
    id: 'graph-token-refused',
    when: { status: [401] },
    action: 'hold-for-sign-in',
    meaning: 'Microsoft Graph refused the access token even after a refresh.',
    fix: 'Check that the app registration has the Microsoft Graph Mail.Send permission with admin consent (docs/graph.md) and that the account signs in for Graph.',
    smtp: [535, '5.7.3'],
    source: 'GRAPH-ERRORS: 401 InvalidAuthenticationToken',
  },
  {
    id: 'graph-access-denied',
    when: { status: [403] },
    action: 'hold-for-admin',
    meaning: 'Microsoft Graph denied access to this mailbox (403): the app lacks Mail.Send, or its RBAC scope or application access policy leaves this mailbox out.',
    fix: 'Grant Microsoft Graph Mail.Send with admin consent; for app-only, include the mailbox in the app\'s RBAC for Applications scope (New-ManagementRoleAssignment -Role "Application Mail.Send") or application access policy (docs/graph.md).',
    smtp: [550, '5.7.1'],
    source: 'GRAPH-ERRORS: 403 ErrorAccessDenied; RBAC-APPS; ACCESS-POLICY',
  },
  {
    id: 'graph-server-error',
    when: { status: [500, 502, 504] },
    action: 'defer',
    meaning: 'Temporary failure at Microsoft Graph; the relay retries later.',
    smtp: [451, '4.4.0'],
    source: 'GRAPH-ERRORS: 500 Internal Server Error, 502, 504 Gateway Timeout',
  },
  {
    id: 'graph-network-error',
    when: { network: true },
    action: 'defer',
    meaning: 'Microsoft Graph could not be reached or the connection broke; the relay retries later.',
    smtp: [451, '4.4.1'],
    source: 'Node.js socket and TLS errors',
  },
  {
    id: 'graph-unknown',
    when: {},
    action: 'defer',
    meaning: 'Unexpected answer from Microsoft Graph; the relay retries later.',
    smtp: [451, '4.4.0'],
    source: 'Conservative default: never lose or bounce a message on an unknown answer',
  },
];

export function findGraphCondition(outcome: GraphOutcome): GraphCondition {
  const row = GRAPH_CONDITIONS.find((condition) => conditionMatches(condition, outcome));
  // The last row matches everything; the guard keeps the types honest.
  if (row === undefined) throw new Error('Graph condition table has no catch-all row');
  return row;
}

/** The scheduler's verdict for a Graph outcome: the same shape the SMTP table gives. */
export function classifyGraphOutcome(outcome: GraphOutcome): Classification {
  const row = findGraphCondition(outcome);
  const meaning = row.fix === undefined ? row.meaning : `${row.meaning} Fix: ${row.fix}`;
  const base = { rule: row.id, meaning, source: row.source, enhancedCode: row.smtp[1] };
  switch (row.action) {
    case 'fail':
    case 'defer':
      return { ...base, action: row.action, refreshTokenFirst: false };
    case 'throttle':
      return { ...base, action: 'throttle', refreshTokenFirst: false, pauseSeconds: outcome.retryAfterSeconds };
    case 'hold-for-admin':
      return { ...base, action: 'reauthenticate', refreshTokenFirst: false };
    case 'hold-for-sign-in':
      return { ...base, action: 'reauthenticate', refreshTokenFirst: true };
  }
}

function conditionMatches(condition: GraphCondition, outcome: GraphOutcome): boolean {
  const { when } = condition;
  if (when.network === true && outcome.status !== undefined) return false;
  if (when.status !== undefined && (outcome.status === undefined || !when.status.includes(outcome.status))) return false;
  if (when.code !== undefined && (outcome.code === undefined || !when.code.test(outcome.code))) return false;
  return true;
}
