/** The public references behind the catalogue's rows (docs/exchange-replies.md lists them with the replies). */
export const SOURCES = {
  smtpAuth: 'https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission (https://aka.ms/smtp_auth_disabled)',
  oauthSmtp: 'https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth',
  limits: 'https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits',
  ndr: 'https://learn.microsoft.com/troubleshoot/exchange/email-delivery/ndr/non-delivery-reports-in-exchange-online',
  ndr57xx: 'https://learn.microsoft.com/troubleshoot/exchange/email-delivery/ndr/fix-error-code-5-7-700-through-5-7-750',
  ndr5110: 'https://learn.microsoft.com/troubleshoot/exchange/email-delivery/ndr/fix-error-code-550-5-1-10-in-exchange-online',
  sendAs: 'https://learn.microsoft.com/exchange/recipients-in-exchange-online/manage-permissions-for-recipients',
  aadsts: 'https://learn.microsoft.com/entra/identity-platform/reference-error-codes',
  refreshTokens: 'https://learn.microsoft.com/entra/identity-platform/refresh-tokens',
  nodeTls: 'https://nodejs.org/api/tls.html',
  nodeErrors: 'https://nodejs.org/api/errors.html#common-system-errors',
  rfc5321: 'RFC 5321 4.2.1 (reply codes: 2yz done, 4yz transient, 5yz permanent)',
  rfc3463: 'RFC 3463 (enhanced status codes: class 4 transient, 5 permanent)',
  rfc3207: 'RFC 3207 (STARTTLS); RFC 8314 3.3 (no cleartext fallback for submission)',
  rfc8996: 'RFC 8996 (TLS 1.0 and 1.1 deprecated)',
  rfc6749: 'RFC 6749 5.2 (OAuth error responses)',
} as const;
