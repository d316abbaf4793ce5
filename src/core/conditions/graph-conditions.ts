/**
 * Rows for Microsoft Graph (upstream "graph", docs/graph.md): what its HTTP answers mean for a
 * message and its account. Every row but the generic HTTP 429 names origin "graph", and the last
 * catches every other Graph answer, so a Graph observation never falls through to an SMTP row.
 * `smtpEquivalent` is the SMTP reply a row stands for, which queue records and DSNs show.
 *
 * Sources: https://learn.microsoft.com/graph/errors, https://learn.microsoft.com/graph/throttling,
 * https://learn.microsoft.com/graph/throttling-limits ("Outlook service limits"),
 * https://learn.microsoft.com/graph/api/user-sendmail,
 * https://learn.microsoft.com/exchange/permissions-exo/application-rbac.
 */
import { NETWORK_ERRORS } from './transport-conditions.js';
import type { Condition } from './types.js';

const GRAPH_ERRORS = 'https://learn.microsoft.com/graph/errors';
const GRAPH_THROTTLING = 'https://learn.microsoft.com/graph/throttling';

export const GRAPH_CONDITIONS: readonly Condition[] = [
  {
    id: 'graph-send-as-denied',
    when: { origin: 'graph', graphCodes: ['ErrorSendAsDenied'] },
    action: 'fail',
    event: 'none',
    meaning: 'The mailbox has no permission to send as this sender address (ErrorSendAsDenied).',
    fix: 'Give {mailbox} Send As on the sender (Add-RecipientPermission <sender> -AccessRights SendAs -Trustee {mailbox}), or send as the mailbox itself.',
    source: `${GRAPH_ERRORS}; https://learn.microsoft.com/graph/api/user-sendmail`,
    smtpEquivalent: [550, '5.7.60'],
  },
  {
    id: 'graph-invalid-recipients',
    when: { origin: 'graph', graphCodes: ['ErrorInvalidRecipients'] },
    action: 'fail',
    event: 'none',
    meaning: 'Microsoft Graph refused the recipients as invalid (ErrorInvalidRecipients).',
    source: GRAPH_ERRORS,
    smtpEquivalent: [550, '5.1.3'],
  },
  {
    id: 'graph-message-too-large',
    when: { origin: 'graph', graphCodes: ['ErrorMessageSizeExceeded', 'RequestEntityTooLarge', 'ErrorRequestEntityTooLarge', 'ErrorAttachmentSizeTooLarge'] },
    action: 'fail',
    event: 'none',
    meaning: 'The message is larger than the mailbox may send (Exchange: 35 MB by default, up to 150 MB).',
    fix: 'Raise the mailbox MaxSendSize (Set-Mailbox {mailbox} -MaxSendSize 150MB) or send a smaller message.',
    source: `${GRAPH_ERRORS}; https://learn.microsoft.com/graph/outlook-large-attachments`,
    smtpEquivalent: [552, '5.3.4'],
  },
  {
    id: 'graph-mailbox-not-rest',
    when: { origin: 'graph', graphCodes: ['MailboxNotEnabledForRESTAPI', 'MailboxNotSupportedForRESTAPI'] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'The mailbox cannot be used through Graph: it is inactive, soft-deleted, unlicensed or hosted on-premises (MailboxNotEnabledForRESTAPI).',
    fix: 'Give the user an Exchange Online licence and a cloud mailbox, or use upstream "smtp" for an on-premises mailbox.',
    source: `${GRAPH_ERRORS}; https://learn.microsoft.com/graph/api/resources/mail-api-overview`,
    smtpEquivalent: [451, '4.7.0'],
  },
  {
    id: 'graph-unknown-mailbox',
    when: { origin: 'graph', httpStatus: [404, 404], graphCodes: ['ErrorInvalidUser', 'ResourceNotFound', 'Request_ResourceNotFound'] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'Microsoft Graph does not know this mailbox.',
    fix: 'Check the account\'s "mailbox" in the configuration (the user principal name or primary address of {mailbox}).',
    source: GRAPH_ERRORS,
    smtpEquivalent: [451, '4.7.0'],
  },
  {
    id: 'graph-mailbox-full',
    when: { origin: 'graph', graphCodes: ['ErrorQuotaExceeded'] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'The mailbox is full, so Graph cannot create the message in it (ErrorQuotaExceeded).',
    fix: 'Free space in {mailbox} (Sent Items, Deleted Items) or raise its quota.',
    source: GRAPH_ERRORS,
    smtpEquivalent: [452, '4.2.2'],
  },
  {
    id: 'graph-upload-budget',
    when: { origin: 'graph', graphCodes: ['UploadBudgetUsedUp'] },
    action: 'keep',
    event: 'throttled',
    meaning: 'This mailbox used its Graph upload budget (150 MB in 5 minutes); the relay starts the next message when it fits.',
    fix: 'Nothing at once: the relay waits until the budget has room and goes on by itself.',
    source: 'https://learn.microsoft.com/graph/throttling-limits (Outlook service limits: 150 MB upload in 5 minutes per app and mailbox)',
    smtpEquivalent: [432, '4.3.2'],
  },
  {
    // Any HTTP upstream: the reply's Retry-After, when given, sets the pause.
    id: 'http-throttled',
    when: { httpStatus: [429, 429] },
    action: 'keep',
    event: 'throttled',
    meaning: 'The upstream asked the relay to slow down (HTTP 429 Too Many Requests).',
    fix: 'Nothing at once: the relay waits as long as the upstream asked (Retry-After) and goes on by itself.',
    source: `RFC 6585 section 4 (429 Too Many Requests); RFC 9110 section 10.2.3 (Retry-After); ${GRAPH_THROTTLING}`,
    smtpEquivalent: [432, '4.3.2'],
  },
  {
    id: 'graph-busy',
    when: { origin: 'graph', httpStatus: [503, 503] },
    action: 'keep',
    event: 'throttled',
    meaning: 'Microsoft Graph is busy (503); the relay waits as long as Retry-After says.',
    fix: 'Nothing at once: the relay waits and goes on by itself.',
    source: GRAPH_THROTTLING,
    smtpEquivalent: [432, '4.3.2'],
  },
  {
    id: 'graph-token-refused',
    when: { origin: 'graph', httpStatus: [401, 401] },
    action: 'keep',
    event: 'sign-in-refused',
    refreshTokenFirst: true,
    meaning: 'Microsoft Graph refused the access token even after a refresh.',
    fix: 'Check that the app registration has the Microsoft Graph Mail.Send permission with admin consent (docs/graph.md) and that {account} signs in for Graph.',
    source: GRAPH_ERRORS,
    smtpEquivalent: [535, '5.7.3'],
  },
  {
    id: 'graph-access-denied',
    when: { origin: 'graph', httpStatus: [403, 403] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'Microsoft Graph denied access to this mailbox (403): the app lacks Mail.Send, or its RBAC scope or application access policy leaves this mailbox out.',
    fix: 'Grant Microsoft Graph Mail.Send with admin consent; for app-only, include {mailbox} in the app\'s RBAC for Applications scope (New-ManagementRoleAssignment -Role "Application Mail.Send") (docs/graph.md).',
    source: `${GRAPH_ERRORS}; https://learn.microsoft.com/exchange/permissions-exo/application-rbac`,
    smtpEquivalent: [550, '5.7.1'],
  },
  {
    id: 'graph-server-error',
    when: { origin: 'graph', httpStatus: [500, 599] },
    action: 'defer',
    event: 'none',
    meaning: 'Temporary failure at Microsoft Graph; the relay retries later.',
    source: GRAPH_ERRORS,
    smtpEquivalent: [451, '4.4.0'],
  },
  {
    id: 'graph-network-error',
    when: { origin: 'graph', errorCodes: NETWORK_ERRORS },
    action: 'defer',
    event: 'upstream-unreachable',
    meaning: 'Microsoft Graph could not be reached or the connection broke; the relay retries later.',
    fix: 'Check that this machine reaches graph.microsoft.com on port 443 (proxy, firewall, DNS).',
    source: 'https://nodejs.org/api/errors.html#common-system-errors',
    smtpEquivalent: [451, '4.4.1'],
  },
  {
    id: 'graph-unknown',
    when: { origin: 'graph' },
    action: 'defer',
    event: 'none',
    meaning: 'Unexpected answer from Microsoft Graph; the relay retries later.',
    source: 'Conservative default: never lose or bounce a message on an unknown answer',
    smtpEquivalent: [451, '4.4.0'],
  },
];
