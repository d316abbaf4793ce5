/**
 * What a failed `login` tells the administrator: the catalogue's sentence and fix for what the
 * identity provider answered (src/core/conditions, docs/exchange-replies.md), not MSAL's raw
 * `invalid_grant` or `AADSTS...: ...` text. The raw codes stay in brackets to search for.
 * Codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 */
import { AuthError, InteractionRequiredAuthError, ServerError } from './lazy-msal.js';
import { aadstsCodeOf, classify, fixFor, type Condition, type FixContext } from '../core/conditions/index.js';
import type { IdentityTlsError } from './tls-failure.js';

/** A login the identity provider (or the way to it) refused; the message is for the administrator. */
export class LoginFailedError extends Error {
  constructor(
    message: string,
    readonly condition: Condition,
    /** The OAuth error or MSAL code, e.g. "invalid_grant"; "network" when nothing answered. */
    readonly error: string,
    readonly aadsts: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LoginFailedError';
  }
}

/** What the network client saw and MSAL dropped: a TLS failure, or Entra's error body. */
export interface LoginFailureEvidence {
  readonly tls?: IdentityTlsError | undefined;
  readonly errorBody?: unknown;
}

/** OAuth errors that say the provider itself is in trouble (RFC 6749 4.1.2.1): a retry may cure them. */
const PASSING_OAUTH_ERRORS = new Set(['server_error', 'temporarily_unavailable']);

/** Turns what MSAL threw during a login into the catalogue's meaning and fix. */
export function loginFailure(error: unknown, context: FixContext & { readonly account: string }, evidence: LoginFailureEvidence = {}): LoginFailedError {
  const auth = error instanceof AuthError ? error : undefined;
  const body = errorBodyFields(evidence.errorBody);
  const oauthError = body.error ?? (auth === undefined || auth.errorCode === '' ? undefined : auth.errorCode);
  const text = evidence.tls?.message ?? [oauthError, body.description ?? auth?.errorMessage ?? (error as Error | undefined)?.message ?? String(error)].join(' ');
  const aadsts = aadstsCodeOf(body.description) ?? aadstsCodeOf(auth?.errorMessage) ?? aadstsCodeOf(text);
  // The provider answered with a refusal (an error body, or an error at the redirect): a person
  // must act, whatever the code; only a missing answer means the provider was out of reach.
  const answered = body.error !== undefined || auth instanceof ServerError || auth instanceof InteractionRequiredAuthError;
  const condition = classify({
    origin: 'identity',
    text,
    aadsts,
    oauthError,
    errorCodes: [...(oauthError === undefined ? [] : [oauthError]), ...(evidence.tls === undefined ? [] : [evidence.tls.tlsCode])],
    personMustAct: answered && evidence.tls === undefined && !PASSING_OAUTH_ERRORS.has(oauthError ?? ''),
  });
  // A per-code wording adds something only when the condition covers several codes.
  const detail = aadsts === undefined || Object.keys(condition.details ?? {}).length < 2 ? undefined : condition.details?.[aadsts];
  const codes = [aadsts, oauthError].filter((code): code is string => code !== undefined).join(', ');
  const bracket = [detail, codes].filter((part) => part !== undefined && part !== '').join(': ');
  const fix = fixFor(condition, { ...context, method: 'delegated' });
  const message =
    `Account "${context.account}": the sign-in failed: ${condition.meaning}${bracket === '' ? '' : ` (${bracket})`}` + `${fix === undefined ? '' : `\nFix: ${fix}`}`;
  return new LoginFailedError(message, condition, oauthError ?? 'network', aadsts, { cause: error });
}

function errorBodyFields(body: unknown): { error?: string; description?: string } {
  if (body === null || typeof body !== 'object') return {};
  const { error, error_description: description } = body as { error?: unknown; error_description?: unknown };
  return { ...(typeof error === 'string' ? { error } : {}), ...(typeof description === 'string' ? { description } : {}) };
}
