/**
 * What delivery needs from sign-in: a bearer token for an account's mailbox.
 * Implementations live in src/auth; delivery depends only on this interface.
 */
export interface AccessToken {
  /** The bearer token. Never log it. */
  readonly token: string;
  /** When the token stops being accepted, in milliseconds since the epoch. */
  readonly expiresAt: number;
}

export interface TokenProvider {
  /**
   * A valid access token. Reuses the current one until it is near expiry; concurrent callers
   * share one request. `forceRefresh` skips the cached token, e.g. after Exchange answered 535.
   */
  getToken(options?: { forceRefresh?: boolean }): Promise<AccessToken>;
}

/** Raised when a token cannot be had and a person must act (bad secret, consent, sign-in). */
export class SignInRequiredError extends Error {
  /** Entra error code such as "AADSTS7000215", when the identity provider gave one. */
  readonly aadstsCode: string | undefined;

  constructor(message: string, aadstsCode?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SignInRequiredError';
    this.aadstsCode = aadstsCode;
  }
}

/** Outcome of one request to the identity provider, as a token provider reports it (metrics count them). */
export type TokenRequestOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };
