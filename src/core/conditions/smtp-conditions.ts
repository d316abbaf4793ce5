/**
 * Exchange Online's SMTP submission replies (smtp.office365.com:587), specific texts first:
 * SendAsDenied comes in three shapes, one of them under 5.2.252, so it is matched by its text
 * before any row keyed on a code. There is deliberately NO "5.2.251-5.2.255 throttling" row:
 * Microsoft does not document one, and 5.2.252 is SendAsDenied (docs/exchange-replies.md).
 */
import { SOURCES } from './sources.js';
import type { Condition } from './types.js';

const SEND_AS_FIX =
  'Give {mailbox} the Send As right on the sender address (Exchange admin center > Recipients > the sender > Delegation > Send as, ' +
  'or Add-RecipientPermission -Identity <sender> -Trustee {mailbox} -AccessRights SendAs); for a device that invents its sender, ' +
  'add it to listen.rewriteSender so that it sends as {mailbox}.';

/** Ordered; the first row that matches wins. */
export const SMTP_SPECIFIC_CONDITIONS: readonly Condition[] = [
  {
    id: 'accepted',
    when: { codes: [200, 299] },
    action: 'delivered',
    event: 'delivered',
    meaning: 'Microsoft 365 accepted the message.',
    source: SOURCES.rfc5321,
  },
  {
    id: 'send-as-denied',
    when: { any: [{ text: /SendAsDenied/i }, { text: /permissions? to send as this sender/i }, { enhanced: /^5\.7\.60$/ }] },
    action: 'fail',
    event: 'none',
    meaning: 'The mailbox has no permission to send as this sender address (SendAsDenied).',
    fix: SEND_AS_FIX,
    source: `${SOURCES.ndr}; ${SOURCES.sendAs}`,
  },
  {
    id: 'daily-recipient-quota',
    when: { text: /SubmissionQuotaExceeded/i },
    action: 'keep',
    event: 'throttled',
    pauseSeconds: 3600,
    meaning:
      'The mailbox reached its daily limit of 10,000 recipients; messages wait in the queue and are tried hourly until the 24-hour window frees up.',
    fix: 'Nothing to do but wait, or spread the sending over several mailboxes (accounts).',
    source: SOURCES.limits,
  },
  {
    id: 'concurrent-connections',
    when: { text: /Concurrent connections limit exceeded/i },
    action: 'keep',
    event: 'throttled',
    meaning: 'Exchange Online refused a 4th simultaneous connection for this mailbox (limit 3); the relay slows down.',
    fix: "Nothing is broken: another program (or the running relay) uses the mailbox's connections. Try again when the queue is idle.",
    source: SOURCES.limits,
  },
  {
    id: 'sender-thread-limit',
    when: { text: /sender thread limit exceeded/i },
    action: 'keep',
    event: 'throttled',
    meaning: 'Exchange Online is throttling submissions from this mailbox; the relay slows down.',
    fix: 'Nothing at once: the relay slows down by itself; if it lasts, look for other programs sending as {mailbox}.',
    source: SOURCES.limits,
  },
  {
    id: 'smtp-auth-disabled',
    when: { any: [{ enhanced: /^5\.7\.139$/ }, { text: /SmtpClientAuthentication is disabled/i }] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'SMTP AUTH is disabled for the tenant or the mailbox; Exchange refuses it even with OAuth.',
    fix:
      'In Exchange Online PowerShell run: Set-CASMailbox -Identity {mailbox} -SmtpClientAuthenticationDisabled $false ' +
      '(or tenant-wide: Set-TransportConfig -SmtpClientAuthenticationDisabled $false; the mailbox setting wins). ' +
      'It can take up to an hour to apply.',
    source: SOURCES.smtpAuth,
  },
];

/** After the TLS rows (transport-conditions.ts): replies keyed on codes. */
export const SMTP_CODE_CONDITIONS: readonly Condition[] = [
  {
    id: 'authentication-unsuccessful',
    when: { any: [{ enhanced: /^5\.7\.3$/ }, { codes: [535, 535] }] },
    action: 'keep',
    event: 'sign-in-refused',
    refreshTokenFirst: true,
    meaning: 'Exchange refused the OAuth token for this mailbox even after a refresh (wrong mailbox, or no rights on it).',
    fix: {
      'client-credentials':
        "Give the app the mailbox in Exchange Online PowerShell (use the Enterprise application's object id): " +
        'New-ServicePrincipal -AppId {clientId} -ObjectId <enterprise app object id>; ' +
        'Add-MailboxPermission -Identity {mailbox} -User <service principal id> -AccessRights FullAccess. ' +
        'Check also that the app has the application permission SMTP.SendAsApp with admin consent.',
      delegated:
        'Sign in as the mailbox itself ({mailbox}), or as a user with Full Access on it: smtp-oauth-relay login --account {account}. ' +
        'Check that the app has the delegated permission SMTP.Send with admin consent.',
    },
    source: SOURCES.oauthSmtp,
  },
  {
    id: 'tenant-or-ip-blocked',
    when: { enhanced: /^5\.7\.(705|708|750)$/ },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'Microsoft 365 blocks sending for this tenant or IP address; an administrator must resolve it with Microsoft before mail can flow.',
    fix: 'A Microsoft 365 administrator must follow the steps for this code on the page cited, usually with Microsoft support; the relay tries one message again every few minutes by itself.',
    source: SOURCES.ndr57xx,
  },
  {
    id: 'recipient-not-found',
    when: { enhanced: /^5\.1\.10$/ },
    action: 'fail',
    event: 'none',
    meaning: 'The recipient address does not exist (RecipientNotFound).',
    fix: 'Correct the recipient address in the sending program.',
    source: SOURCES.ndr5110,
  },
  {
    id: 'message-too-big',
    when: { enhanced: /^5\.3\.4$/ },
    action: 'fail',
    event: 'none',
    meaning: 'The message is larger than Exchange Online accepts (35 MB by default).',
    fix: 'Send smaller attachments, or raise the mailbox\'s MaxSendSize.',
    source: SOURCES.limits,
  },
  {
    id: 'throttled-4.3.2',
    when: { codes: [432, 432] },
    action: 'keep',
    event: 'throttled',
    meaning: 'Exchange Online asked the relay to slow down (4.3.2).',
    fix: 'Nothing at once: the relay slows down by itself; if it lasts, look for other programs sending as {mailbox}.',
    source: SOURCES.limits,
  },
  {
    id: 'service-not-available',
    when: { codes: [421, 421] },
    action: 'defer',
    event: 'upstream-unreachable',
    meaning: 'Microsoft 365 closed the connection (service not available); the relay retries later.',
    source: SOURCES.rfc5321,
  },
  {
    id: 'transient',
    when: { codes: [400, 499] },
    action: 'defer',
    event: 'none',
    meaning: 'Temporary failure at Microsoft 365; the relay retries later.',
    source: `${SOURCES.rfc5321}; ${SOURCES.rfc3463}`,
  },
  {
    id: 'permanent',
    when: { codes: [500, 599] },
    action: 'fail',
    event: 'none',
    meaning: 'Microsoft 365 refused the message permanently.',
    source: `${SOURCES.rfc5321}; ${SOURCES.rfc3463}`,
  },
];
