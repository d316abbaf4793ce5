/**
 * When to ask the identity provider, shared by every token provider: keep the access token
 * until 5 minutes before it expires (by the injected Clock, so tests need not wait), and let
 * callers who ask at the same time share one request.
 */
import type { Clock } from '../core/clock.js';
import type { AccessToken } from '../core/token.js';

/** Ask for a new token this long before the current one expires. */
export const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;

export interface TokenReuseOptions {
  readonly clock: Clock;
  /** Gets a token; `forceRefresh` asks for a new one, whatever any cache holds. */
  readonly acquire: (forceRefresh: boolean) => Promise<AccessToken>;
  /**
   * True when every request is answered by the identity provider itself (client credentials,
   * `skipCache`): a forced refresh may then join a request already on its way, whose answer is
   * just as fresh. False when an unforced request may be answered from MSAL's cache (delegated):
   * a forced refresh then waits for it and makes its own, so that the refresh token really is redeemed.
   */
  readonly everyRequestIsFresh: boolean;
}

export class TokenReuse {
  private readonly options: TokenReuseOptions;
  private current: AccessToken | undefined;
  private inFlight: { readonly forced: boolean; readonly request: Promise<AccessToken> } | undefined;

  constructor(options: TokenReuseOptions) {
    this.options = options;
  }

  get(forceRefresh = false): Promise<AccessToken> {
    const { current, inFlight } = this;
    if (!forceRefresh && current !== undefined && this.options.clock.now() < current.expiresAt - REFRESH_BEFORE_EXPIRY_MS) {
      return Promise.resolve(current);
    }
    if (inFlight !== undefined && (!forceRefresh || inFlight.forced || this.options.everyRequestIsFresh)) return inFlight.request;
    const previous = inFlight?.request.catch(() => undefined);
    const request = (previous === undefined ? this.run(forceRefresh) : previous.then(() => this.run(forceRefresh))).finally(() => {
      if (this.inFlight?.request === request) this.inFlight = undefined;
    });
    this.inFlight = { forced: forceRefresh, request };
    return request;
  }

  /** Forgets the current token, e.g. after the identity provider refused the credentials. */
  clear(): void {
    this.current = undefined;
  }

  private async run(forceRefresh: boolean): Promise<AccessToken> {
    const token = await this.options.acquire(forceRefresh);
    this.current = token;
    return token;
  }
}
