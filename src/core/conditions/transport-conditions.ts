/**
 * TLS and network failures, whichever upstream or identity provider they concern. A failure of
 * the STARTTLS step is never the message's fault and never a bounce (RFC 8314 3.3: no cleartext
 * fallback for submission; a firewall doing "ESMTP inspection" or an attacker stripping STARTTLS
 * looks exactly like this): the message stays queued and the account waits, then is held.
 */
import { SOURCES } from './sources.js';
import type { Condition } from './types.js';

/** Node's names for certificate failures (SOURCES.nodeTls); a TLS-inspecting proxy causes most of them. */
export const CERTIFICATE_ERRORS = [
  'CERT_HAS_EXPIRED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
] as const;

/** Node socket errors and nodemailer's connection codes (SOURCES.nodeErrors): the far end is out of reach. */
export const NETWORK_ERRORS = [
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

const CERTIFICATE_FIX =
  'The certificate of {host} is not trusted: check the machine\'s date and time; if a TLS-inspecting proxy or firewall is in the way, ' +
  'give its CA certificate (PEM) in upstream.caFile (identity.caFile for the sign-in host), or exempt {host} from inspection.';

/** Before the SMTP code rows: a refused STARTTLS carries a 5xx reply that must not read as "permanent". */
export const TLS_CONDITIONS: readonly Condition[] = [
  {
    id: 'certificate-untrusted',
    when: { any: [{ errorCodes: CERTIFICATE_ERRORS }, { noReply: true, text: /certificate|self[- ]signed|unable to verify/i }] },
    action: 'keep',
    event: 'tls-failed',
    meaning: "The server's certificate is not trusted; nothing is sent (no token without a verified TLS connection).",
    fix: CERTIFICATE_FIX,
    source: SOURCES.nodeTls,
  },
  {
    id: 'tls-version',
    when: { enhanced: /^4\.7\.66$/ },
    action: 'keep',
    event: 'tls-failed',
    meaning: 'The server refused the TLS version; it requires TLS 1.2 or later.',
    fix: 'Set upstream.minTlsVersion to TLSv1.2 or later, and check that nothing between this machine and {host} downgrades TLS.',
    source: SOURCES.rfc8996,
  },
  {
    id: 'starttls-failed',
    when: { errorCodes: ['ETLS'] },
    action: 'keep',
    event: 'tls-failed',
    meaning:
      'The STARTTLS step with the upstream failed (refused, not offered, or the handshake broke); nothing is sent without TLS, and the messages stay queued.',
    fix:
      'Something between this machine and {host}:{port} refuses or strips STARTTLS (a firewall doing "SMTP/ESMTP inspection", a proxy, or an attack): ' +
      'exempt {host} from inspection, and check upstream.host and upstream.port (587, STARTTLS).',
    source: SOURCES.rfc3207,
  },
];

/** After the SMTP code rows. */
export const NETWORK_CONDITIONS: readonly Condition[] = [
  {
    id: 'network-error',
    when: {
      any: [
        { noReply: true, errorCodes: NETWORK_ERRORS },
        { noReply: true, text: /ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|timed? ?out|getaddrinfo/i },
      ],
    },
    action: 'defer',
    event: 'upstream-unreachable',
    meaning: 'The server could not be reached or the connection broke; the relay retries later.',
    fix: 'Cannot reach {host}:{port}: check DNS, the firewall (outbound TCP {port}) and upstream.host / upstream.port in the configuration.',
    source: SOURCES.nodeErrors,
  },
  {
    id: 'auth-not-possible',
    when: { noReply: true, errorCodes: ['EAUTH', 'EOAUTH2'] },
    action: 'keep',
    event: 'sign-in-refused',
    meaning: 'The relay could not authenticate to Microsoft 365 (no usable token, or XOAUTH2 not offered after STARTTLS).',
    fix: 'Check the sign-in with smtp-oauth-relay doctor --account {account}.',
    source: SOURCES.oauthSmtp,
  },
];
