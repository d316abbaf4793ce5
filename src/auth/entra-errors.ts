/**
 * Which identity-provider errors mean "a person must act" (SignInRequiredError) and which are
 * passing trouble that a retry can cure (network errors, 5xx, throttling). The codes and what
 * they mean live in the one catalogue of conditions (src/core/conditions/entra-conditions.ts).
 *
 * Codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 * and RFC 6749 section 5.2 for the OAuth `error` values.
 */
import { aadstsCodeOf, classify, PERSON_MUST_ACT_OAUTH_ERRORS, type Condition } from '../core/conditions/index.js';
import { SignInRequiredError } from '../core/token.js';
import { AuthError, InteractionRequiredAuthError } from './lazy-msal.js';

/** The first AADSTS code in a text, e.g. "AADSTS7000215". */
export const findAadstsCode = aadstsCodeOf;

/**
 * The catalogue's condition for an AADSTS code when a person must act on it (held for sign-in
 * or for an administrator); undefined for codes a retry may cure.
 */
export function personMustActFor(code: string | undefined): Condition | undefined {
  if (code === undefined) return undefined;
  const condition = classify({ origin: 'identity', text: code, aadsts: code });
  return condition.event === 'sign-in-refused' || condition.event === 'admin-action-required' ? condition : undefined;
}

/**
 * The error `getToken` should throw for an MSAL error: a SignInRequiredError when a person must
 * act, else the error itself (the caller retries later).
 */
export function classifyTokenError(error: unknown, account: string): unknown {
  if (!(error instanceof AuthError)) return error;
  const code = findAadstsCode(error.errorMessage) ?? findAadstsCode(error.message);
  const known = personMustActFor(code);
  // MSAL's own verdict that only a person can go on (no refresh token in the cache, a
  // refresh token it knows is expired, interaction_required, consent_required, ...).
  const interactionRequired = error instanceof InteractionRequiredAuthError;
  const oauthRefusal = (PERSON_MUST_ACT_OAUTH_ERRORS as readonly string[]).includes(error.errorCode);
  if (known === undefined && !interactionRequired && !oauthRefusal) return error;
  const reason = known === undefined ? `the identity provider refused the request (${error.errorCode})` : reasonOf(known, code);
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
  const known = personMustActFor(code);
  if (code === undefined || known === undefined) return undefined;
  return new SignInRequiredError(`Account "${account}": cannot get a token: ${reasonOf(known, code)}. (${code})`, code);
}

/** The short wording for this code, else the condition's sentence without its full stop. */
function reasonOf(condition: Condition, code: string | undefined): string {
  const detail = code === undefined ? undefined : condition.details?.[code];
  return detail ?? condition.meaning.replace(/\.$/, '');
}
