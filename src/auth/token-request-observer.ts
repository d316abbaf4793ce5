/**
 * What a token provider tells whoever counts (the daemon's metrics) after each request that went
 * to the identity provider: a new access token, or a failure with a low-cardinality code (the
 * Entra AADSTS code, else the OAuth error of RFC 6749 section 5.2, else "network"). Answers from
 * a cache are not requests and are not reported. Never a token, never a message with user data.
 */
import type { TokenRequestOutcome } from '../core/token.js';

export type { TokenRequestOutcome } from '../core/token.js';

export type TokenRequestObserver = (account: string, outcome: TokenRequestOutcome) => void;
