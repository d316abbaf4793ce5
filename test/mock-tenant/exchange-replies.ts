/**
 * Exchange Online's own reply texts for SMTP AUTH submission, for scripting the fake Exchange.
 * Sources: /work/shared/M365.md (learn.microsoft.com "Exchange Online limits", "SMTP AUTH"
 * troubleshooting, NDR reference for 5.7.60, 5.1.10 and 5.2.0), and replies seen in public code.
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
  submissionQuotaExceeded: {
    code: 554,
    text: '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.',
  },
  recipientNotFound: { code: 550, text: '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' },
  messageTooBig: { code: 552, text: '5.3.4 Message size exceeds fixed maximum message size' },
  /** A transient outage answered at connect. */
  serviceNotAvailable: { code: 421, text: '4.3.2 Service not available, closing transmission channel' },
} as const satisfies Record<string, SmtpReply>;
