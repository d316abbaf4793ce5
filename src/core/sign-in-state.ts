/**
 * What the relay knows about an account's sign-in, kept outside the secret store (it holds no
 * secret) so that `status` can read it even when the daemon is down. MSAL never shows the refresh
 * token or its age, so the relay records itself when a refresh token was issued or rotated and
 * predicts its expiry: Microsoft refresh tokens lapse after 90 days without use (docs/microsoft-365.md).
 */
export const REFRESH_TOKEN_LIFETIME_DAYS = 90;

export type SignInStatus =
  /** Tokens work (or worked at the last try). */
  | 'ok'
  /** A person must sign in again (invalid_grant, AADSTS70008, 700082, 50173, ...): the queue is held. */
  | 'sign-in-required'
  /** Never signed in (delegated accounts before `login`). */
  | 'never-signed-in';

export interface RefreshFailure {
  readonly at: string;
  /** OAuth error, e.g. "invalid_grant", or "network" for an unreachable identity provider. */
  readonly error: string;
  /** Entra code such as "AADSTS700082", when the answer carried one. */
  readonly aadsts?: string | undefined;
  /** One sentence an administrator can act on. */
  readonly message: string;
}

export interface SignInState {
  readonly version: 1;
  readonly account: string;
  readonly method: 'client-credentials' | 'delegated';
  readonly status: SignInStatus;
  /** Delegated: the user who signed in (preferred_username), and whether it is the account's mailbox. */
  readonly signedInAs?: string | undefined;
  readonly mailboxMatches?: boolean | undefined;
  /** Delegated: when the refresh token was last issued or rotated (ISO 8601). */
  readonly refreshTokenIssuedAt?: string | undefined;
  /** Delegated: refreshTokenIssuedAt + 90 days, the latest the sign-in lasts without another refresh. */
  readonly refreshTokenExpiresAt?: string | undefined;
  readonly accessTokenExpiresAt?: string | undefined;
  readonly lastRefreshAt?: string | undefined;
  readonly lastRefreshError?: RefreshFailure | undefined;
}

/** When a refresh token issued at `issuedAt` lapses if nothing redeems it. */
export function predictedRefreshExpiry(issuedAt: number): number {
  return issuedAt + REFRESH_TOKEN_LIFETIME_DAYS * 24 * 3600_000;
}
