/**
 * Every Exchange and Entra error the relay meets, translated into the administrator's next step.
 * ONE ordered table (first matching row wins), data rather than ifs, in the manner of
 * src/delivery/reply-classification.ts: `doctor`, `send-test` and anything else that shows a
 * failure to a person read their fix here.
 *
 * Fix texts are templates: {mailbox}, {account}, {clientId}, {tenantId}, {host} and {port} are
 * filled from the account and the upstream the error concerns.
 *
 * Sources:
 *   M365.md          /work/shared/M365.md (SMTP submission with OAuth, delegated and app-only flows, replies)
 *   README           README.md, "What sign-in errors mean" and "Microsoft 365 side, app-only"
 *   MS-SMTP-AUTH     https://aka.ms/smtp_auth_disabled
 *   MS-AADSTS        https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 *   MS-NDR           https://learn.microsoft.com/troubleshoot/exchange/email-delivery/ndr/non-delivery-reports-in-exchange-online
 *   NODE-TLS         https://nodejs.org/api/tls.html (X509_V_ERR_* codes as Node names them)
 */

export type SignInMethod = 'client-credentials' | 'delegated';

/** What went wrong, as seen by whoever met it: a reply, an error message, error codes. */
export interface Problem {
  /** The reply text or the error message (e.g. "535 5.7.139 Authentication unsuccessful ..."). */
  readonly text: string;
  /** Node, nodemailer or OpenSSL codes: ECONNREFUSED, ESOCKET, CERT_HAS_EXPIRED, ... */
  readonly errorCodes?: readonly (string | undefined)[];
}

/** What the fix texts are filled with. */
export interface FixContext {
  readonly account?: string;
  readonly mailbox?: string;
  readonly method?: SignInMethod;
  readonly clientId?: string;
  readonly tenantId?: string;
  readonly host?: string;
  readonly port?: number;
}

export interface FixRule {
  readonly id: string;
  /** Tested against the problem's text. */
  readonly text?: RegExp;
  /** Any of these codes among the problem's error codes. */
  readonly errorCodes?: readonly string[];
  /** One sentence: what the error means. */
  readonly meaning: string;
  /** What to do; per sign-in method when the two differ. */
  readonly fix: string | { readonly [method in SignInMethod]: string };
  readonly source: string;
}

export interface Fix {
  readonly rule: string;
  readonly meaning: string;
  readonly fix: string;
  readonly source: string;
}

/** Node's names for certificate failures (NODE-TLS); a TLS-inspecting proxy causes most of them. */
const CERTIFICATE_ERRORS = [
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
];

const NETWORK_ERRORS = ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'EDNS'];

const LOGIN = 'smtp-oauth-relay login --account {account}';

export const FIX_RULES: readonly FixRule[] = [
  {
    id: 'smtp-auth-disabled',
    text: /\b5\.7\.139\b|SmtpClientAuthentication is disabled/i,
    meaning: 'SMTP AUTH is disabled for the tenant or the mailbox; Exchange refuses it even with OAuth.',
    fix:
      'In Exchange Online PowerShell run: Set-CASMailbox -Identity {mailbox} -SmtpClientAuthenticationDisabled $false ' +
      '(or tenant-wide: Set-TransportConfig -SmtpClientAuthenticationDisabled $false; the mailbox setting wins). ' +
      'It can take up to an hour to apply.',
    source: 'M365.md "SMTP AUTH must be enabled even with OAuth"; MS-SMTP-AUTH; README "Microsoft 365 side" step 3',
  },
  {
    id: 'token-refused',
    text: /\b5\.7\.3(?![\d.])/,
    meaning: 'Exchange refused the token for this mailbox (wrong mailbox, or no rights on it).',
    fix: {
      'client-credentials':
        'Give the app the mailbox in Exchange Online PowerShell (use the Enterprise application\'s object id): ' +
        'New-ServicePrincipal -AppId {clientId} -ObjectId <enterprise app object id>; ' +
        'Add-MailboxPermission -Identity {mailbox} -User <service principal id> -AccessRights FullAccess. ' +
        'Check also that the app has the application permission SMTP.SendAsApp with admin consent.',
      delegated:
        'Sign in as the mailbox itself ({mailbox}), or as a user with Full Access on it: ' + LOGIN + '. ' +
        'Check that the app has the delegated permission SMTP.Send with admin consent.',
    },
    source: 'M365.md "App-only flow" and "SMTP submission with OAuth" (535 5.7.3); README "What sign-in errors mean"',
  },
  {
    id: 'send-as-denied',
    text: /\b5\.7\.60\b|SendAsDenied/i,
    meaning: 'The mailbox may not send as this From address (SendAsDenied).',
    fix:
      'Give {mailbox} the Send As right on the sender address (Exchange admin center > Recipients > the sender > Delegation > Send as, ' +
      'or Add-RecipientPermission -Identity <sender> -Trustee {mailbox} -AccessRights SendAs), or send as {mailbox} itself.',
    source: 'M365.md "Send-as mismatch: 5.7.60"; MS-NDR; README "What sign-in errors mean"',
  },
  {
    id: 'concurrent-connections',
    text: /\b4\.3\.2\b.*(Concurrent connections|thread limit)/i,
    meaning: 'Exchange allows 3 connections per mailbox and all of them are in use now.',
    fix: 'Nothing is broken: another program (or the running relay) uses the mailbox\'s connections. Try again when the queue is idle.',
    source: 'M365.md "3 concurrent connections per mailbox"',
  },
  {
    id: 'consent-missing',
    text: /\bAADSTS65001\b/,
    meaning: 'Admin consent for the application\'s permissions is missing.',
    fix:
      'In Microsoft Entra, App registrations > the app with client id {clientId} > API permissions: Grant admin consent ' +
      '(or open https://login.microsoftonline.com/{tenantId}/adminconsent?client_id={clientId} as an administrator).',
    source: 'M365.md "invalid_grant error codes" (AADSTS65001); MS-AADSTS; README "What sign-in errors mean"',
  },
  {
    id: 'client-secret-invalid',
    text: /\bAADSTS(7000215|7000222|7000218)\b|auth\.clientSecretEnv\) is not set|no client secret is stored/i,
    meaning: 'The client secret is wrong, expired or missing.',
    fix: 'Create a new client secret for the app {clientId} in Microsoft Entra (Certificates & secrets), then: smtp-oauth-relay secret set --account {account}',
    source: 'MS-AADSTS (7000215 invalid secret, 7000222 expired, 7000218 missing); README "What sign-in errors mean"',
  },
  {
    id: 'sign-in-again',
    text: /\bAADSTS(700082|70008|50173|70043|50076|53003|50057|50126)\b|never signed in|sign-in required|smtp-oauth-relay login/i,
    meaning: 'The sign-in lapsed or was revoked (90 days unused, password reset, Conditional Access): a person must sign in again.',
    fix: LOGIN,
    source: 'M365.md "Delegated flow" (invalid_grant codes); README "What sign-in errors mean"',
  },
  {
    id: 'unknown-app-or-tenant',
    text: /\bAADSTS(700016|90002|900023|500011)\b/,
    meaning: 'The application (client) id or the tenant is not known.',
    fix: 'Check accounts[].auth.clientId ({clientId}) and tenantId ({tenantId}) against the app registration\'s Overview page in Microsoft Entra.',
    source: 'MS-AADSTS (700016 unknown app, 90002 / 900023 tenant); README "What sign-in errors mean"',
  },
  {
    id: 'certificate-untrusted',
    text: /certificate|self[- ]signed|unable to verify/i,
    errorCodes: CERTIFICATE_ERRORS,
    meaning: 'The server\'s certificate is not trusted.',
    fix:
      'The certificate of {host} is not trusted: check the machine\'s date and time; if a TLS-inspecting proxy or firewall is in the way, ' +
      'give its CA certificate (PEM) in upstream.caFile (identity.caFile for the sign-in host), or exempt {host} from inspection.',
    source: 'NODE-TLS; README "Configure" (upstream.caFile, identity.caFile)',
  },
  {
    id: 'unreachable',
    errorCodes: NETWORK_ERRORS,
    text: /ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|timed? ?out|getaddrinfo/i,
    meaning: 'The server cannot be reached.',
    fix: 'Cannot reach {host}:{port}: check DNS, the firewall (outbound TCP {port}) and upstream.host / upstream.port in the configuration.',
    source: 'M365.md "Endpoint: smtp.office365.com, port 587"',
  },
];

/** The first rule that matches the problem, its fix filled from the context. */
export function findFix(problem: Problem, context: FixContext = {}): Fix | undefined {
  const codes = new Set(problem.errorCodes?.filter((code): code is string => code !== undefined));
  const rule = FIX_RULES.find(
    (candidate) =>
      (candidate.errorCodes?.some((code) => codes.has(code)) ?? false) || (candidate.text?.test(problem.text) ?? false),
  );
  if (rule === undefined) return undefined;
  const template = typeof rule.fix === 'string' ? rule.fix : rule.fix[context.method ?? 'client-credentials'];
  return { rule: rule.id, meaning: rule.meaning, fix: fill(template, context), source: rule.source };
}

/** Every error code an error carries: its own, nodemailer's kept original, and its causes'. */
export function errorCodesOf(error: unknown): string[] {
  const codes: string[] = [];
  for (let current: unknown = error, depth = 0; current !== null && typeof current === 'object' && depth < 5; depth += 1) {
    const { code, originalCode, errno } = current as { code?: unknown; originalCode?: unknown; errno?: unknown };
    for (const value of [code, originalCode, errno]) if (typeof value === 'string') codes.push(value);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/** Error message plus the reply nodemailer attached and the causes' messages, for matching. */
export function problemOf(error: unknown): Problem {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current !== null && current !== undefined && depth < 5; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.message);
      const response = (current as { response?: unknown }).response;
      if (typeof response === 'string' && !current.message.includes(response)) parts.push(response);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return { text: parts.join(' | '), errorCodes: errorCodesOf(error) };
}

function fill(template: string, context: FixContext): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, key: string) => {
    const value = (context as Record<string, unknown>)[key];
    return value === undefined ? placeholder.replace(/[{}]/g, (brace) => (brace === '{' ? '<' : '>')) : String(value);
  });
}
