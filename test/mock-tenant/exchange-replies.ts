/**
 * Exchange Online's own reply texts for SMTP AUTH submission, for scripting the fake Exchange.
 * Every text and its public source is listed in docs/exchange-replies.md (Microsoft Learn:
 * Exchange Online limits, SMTP AUTH troubleshooting, the NDR reference); the catalogue's test
 * (src/core/conditions/catalogue.test.ts) classifies each of them.
 * `text` starts with the enhanced status code (RFC 3463), as Exchange sends it.
 */
export interface SmtpReply {
  /** Basic reply code (RFC 5321 section 4.2). */
  readonly code: number;
  /** Everything after the code, e.g. "4.3.2 Concurrent connections limit exceeded". */
  readonly text: string;
}

export const EXCHANGE_REPLIES = {
  /** More than 3 concurrent connections for one mailbox (answered at AUTH). */
  concurrentConnectionsExceeded: { code: 432, text: '4.3.2 Concurrent connections limit exceeded' },
  /** Older throttling text; sent when the submission rate is exceeded. */
  senderThreadLimitExceeded: { code: 432, text: '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' },
  authenticationSuccessful: { code: 235, text: '2.7.0 Authentication successful' },
  authenticationUnsuccessful: { code: 535, text: '5.7.3 Authentication unsuccessful' },
  smtpAuthDisabledForTenant: {
    code: 535,
    text: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.',
  },
  smtpAuthDisabledForMailbox: {
    code: 535,
    text: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.',
  },
  sendAsDenied: { code: 550, text: '5.7.60 SMTP; Client does not have permissions to send as this sender' },
  /** SendAsDenied as the store driver says it at DATA, and under 5.2.252 (docs/exchange-replies.md). */
  sendAsDeniedStoreDriver: {
    code: 554,
    text: '5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.',
  },
  sendAsDeniedRpc: { code: 554, text: '5.2.252 SendAsDeniedException.Mapi.ExRpcException' },
  submissionQuotaExceeded: {
    code: 554,
    text: '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.',
  },
  recipientNotFound: { code: 550, text: '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' },
  messageTooBig: { code: 552, text: '5.3.4 Message size exceeds fixed maximum message size' },
  /** A transient outage answered at connect. */
  serviceNotAvailable: { code: 421, text: '4.3.2 Service not available, closing transmission channel' },
} as const satisfies Record<string, SmtpReply>;
