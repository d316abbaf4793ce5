/**
 * What a delegated account's sign-in shows and returns: the prompt for the person, the options
 * of a login, its result, and what the token provider is built with.
 */
import type { ICachePlugin } from '@azure/msal-node';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { RefreshFailure } from '../core/sign-in-state.js';
import type { TokenRequestObserver } from './token-request-observer.js';

/** What the person signing in must be shown: a URL to open, or a code to enter. */
export type LoginPrompt =
  | { readonly kind: 'browser'; readonly url: string }
  | { readonly kind: 'device-code'; readonly userCode: string; readonly verificationUri: string; readonly message: string };

export interface LoginOptions {
  /** 'browser': authorization code with PKCE, redirected to a loopback listener on 127.0.0.1 (loopback-sign-in.ts); 'device-code': RFC 8628. */
  readonly mode: 'browser' | 'device-code';
  /**
   * Shows the prompt: opens a browser or prints the URL (browser), or prints the code and the
   * address (device code). For 'browser', resolve once the URL is handed over: the listener
   * waits for the redirect after that.
   */
  readonly onPrompt: (prompt: LoginPrompt) => Promise<void> | void;
  /** Gives up waiting for the person (Ctrl+C, or the control client went away): the listener closes, nothing is redeemed. */
  readonly signal?: AbortSignal;
}

export interface LoginResult {
  readonly account: string;
  /** The user who signed in (preferred_username). */
  readonly signedInAs: string;
  /** Whether that user is the account's mailbox (case-insensitive). */
  readonly mailboxMatches: boolean;
  /** When the sign-in lapses unless the relay refreshes it before (ISO 8601). */
  readonly refreshTokenExpiresAt: string;
  /** One sentence for the person who signed in: who they are and whether that can send as the mailbox. */
  readonly message: string;
}

export interface DelegatedTokenProviderOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Where the sign-in state is recorded (`<dataDir>/state/sign-in/<account>.json`). */
  readonly dataDir: string;
  /** MSAL's persistence: the account's sealed cache file (`createTokenCachePlugin`). */
  readonly cachePlugin: ICachePlugin;
  /**
   * Called once each time the account goes from working to "sign-in required" (not for the
   * local refusals that follow): the daemon holds the account's queue and raises the alert.
   */
  readonly onSignInRequired?: (account: string, failure: RefreshFailure) => void;
  /** Told after each request to the identity provider (metrics: refreshes and failures). */
  readonly onTokenRequest?: TokenRequestObserver;
  /** The pages the loopback listener shows in the browser after the redirect. */
  readonly successTemplate?: string;
  readonly errorTemplate?: string;
}
