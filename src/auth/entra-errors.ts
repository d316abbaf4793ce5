/**
 * Which identity-provider errors mean "a person must act" (SignInRequiredError) and which are
 * passing trouble that a retry can cure (network errors, 5xx, throttling).
 *
 * Codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 * and RFC 6749 section 5.2 for the OAuth `error` values.
 */
import { AuthError, InteractionRequiredAuthError } from '@azure/msal-node';
import { SignInRequiredError } from '../core/token.js';

/** OAuth `error` values (RFC 6749 section 5.2, OIDC core 3.1.2.6) that no retry will fix. */
const PERSON_MUST_ACT_ERRORS = new Set([
  'invalid_client',
  'unauthorized_client',
  'invalid_grant',
  'invalid_scope',
  'invalid_resource',
  'invalid_tenant',
  'interaction_required',
  'consent_required',
  'login_required',
]);

/** AADSTS codes that need an administrator or a sign-in, whatever `error` came with them. */
export const PERSON_MUST_ACT_AADSTS: Readonly<Record<string, string>> = {
  AADSTS7000215: 'the client secret is wrong (use the secret value, not its ID)',
  AADSTS700027: 'the client assertion was not signed by a certificate registered on the app (upload the certificate in Certificates & secrets)',
  AADSTS7000222: 'the client secret has expired; create a new one',
  AADSTS7000218: 'no client secret was sent',
  AADSTS700016: 'the application (client) ID is not known in this tenant',
  AADSTS90002: 'the tenant was not found',
  AADSTS900023: 'the tenant ID is not valid',
  AADSTS65001: 'admin consent is missing',
  AADSTS500011: 'the resource (Office 365 Exchange Online) is not available in this tenant',
  AADSTS70011: 'the requested scope is not valid',
  AADSTS700082: 'the refresh token expired after 90 days without use; sign in again',
  AADSTS70008: 'the grant expired or was revoked; sign in again',
  AADSTS50173: 'the grant was revoked; sign in again',
  AADSTS70043: 'Conditional Access sign-in frequency requires a new sign-in',
  AADSTS50076: 'multi-factor authentication is required; sign in again',
  AADSTS53003: 'blocked by Conditional Access',
  AADSTS50057: 'the user account is disabled',
  AADSTS50126: 'invalid user name or password',
};

const AADSTS_PATTERN = /\bAADSTS(\d+)\b/;

/** The first AADSTS code in a text, e.g. "AADSTS7000215". */
export function findAadstsCode(text: string | undefined): string | undefined {
  const match = text === undefined ? null : AADSTS_PATTERN.exec(text);
  return match?.[1] === undefined ? undefined : `AADSTS${match[1]}`;
}

/**
 * The error `getToken` should throw for an MSAL error: a SignInRequiredError when a person must
 * act, else the error itself (the caller retries later).
 */
export function classifyTokenError(error: unknown, account: string): unknown {
  if (!(error instanceof AuthError)) return error;
  const code = findAadstsCode(error.errorMessage) ?? findAadstsCode(error.message);
  const known = code === undefined ? undefined : PERSON_MUST_ACT_AADSTS[code];
  // MSAL's own verdict that only a person can go on (no refresh token in the cache, a
  // refresh token it knows is expired, interaction_required, consent_required, ...).
  const interactionRequired = error instanceof InteractionRequiredAuthError;
  if (known === undefined && !interactionRequired && !PERSON_MUST_ACT_ERRORS.has(error.errorCode)) return error;
  const reason = known ?? `the identity provider refused the request (${error.errorCode})`;
  return new SignInRequiredError(
    `Account "${account}": cannot get a token: ${reason}.${code === undefined ? '' : ` (${code})`}`,
    code,
    { cause: error },
  );
}

/**
 * An Entra error body seen by the network client (MSAL turns a failed discovery into a bare
 * "endpoints_resolution_error" and drops it): a SignInRequiredError when it names an
 * AADSTS code that needs a person, e.g. AADSTS90002 for a mistyped tenant.
 */
export function classifyErrorBody(body: unknown, account: string): SignInRequiredError | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const description = (body as { error_description?: unknown }).error_description;
  const code = findAadstsCode(typeof description === 'string' ? description : undefined);
  const known = code === undefined ? undefined : PERSON_MUST_ACT_AADSTS[code];
  if (code === undefined || known === undefined) return undefined;
  return new SignInRequiredError(`Account "${account}": cannot get a token: ${known}. (${code})`, code);
}
