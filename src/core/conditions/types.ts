/**
 * The shape of the one catalogue of conditions (docs/exchange-replies.md): everything the relay
 * meets upstream (an SMTP reply, a TLS or network error, an Entra error, later an HTTP/Graph
 * error) is an Observation; the first Condition whose matcher holds says what it means for the
 * message (action), for the account (event), and for the person reading status, doctor or a DSN.
 */

/** Where something was observed; a row that names an origin matches only observations from there. */
export type ConditionOrigin = 'smtp' | 'graph' | 'identity' | 'local';

/** What an upstream outcome, a TLS or network error, or an identity-provider error looked like. */
export interface Observation {
  readonly origin?: ConditionOrigin | undefined;
  /** Basic SMTP reply code (RFC 5321 4.2); absent for network, TLS and client-side errors. */
  readonly code?: number | undefined;
  /** The reply line(s) or the error message (never a token). */
  readonly text: string;
  /** Node, nodemailer, OpenSSL or MSAL codes: ECONNREFUSED, ETLS, EAUTH, CERT_HAS_EXPIRED, ... */
  readonly errorCodes?: readonly string[] | undefined;
  /** Entra error code, e.g. "AADSTS7000215"; found in the text when not given. */
  readonly aadsts?: string | undefined;
  /** OAuth `error` value (RFC 6749 5.2), e.g. "invalid_grant". */
  readonly oauthError?: string | undefined;
  /** HTTP status, for HTTP upstreams (Microsoft Graph) and the identity provider. */
  readonly httpStatus?: number | undefined;
  /** Microsoft Graph error code (error.code of the JSON body), e.g. "ErrorSendAsDenied". */
  readonly graphCode?: string | undefined;
  /** The token provider's verdict that only a person can go on (SignInRequiredError). */
  readonly personMustAct?: boolean | undefined;
}

/** Every given criterion must hold. */
export interface ConditionMatch {
  readonly origin?: ConditionOrigin;
  /** Inclusive range of basic reply codes. */
  readonly codes?: readonly [number, number];
  /** Tested against the enhanced status code (RFC 3463) found in the text, e.g. "5.7.60". */
  readonly enhanced?: RegExp;
  /** Tested against the reply text or error message. */
  readonly text?: RegExp;
  /** Any of these among the observation's error codes. */
  readonly errorCodes?: readonly string[];
  /** Any of these Entra codes ("AADSTS65001"). */
  readonly aadsts?: readonly string[];
  readonly oauthErrors?: readonly string[];
  /** Inclusive range of HTTP statuses (for HTTP upstreams). */
  readonly httpStatus?: readonly [number, number];
  /** Any of these Microsoft Graph error codes. */
  readonly graphCodes?: readonly string[];
  /** Only observations without a reply code (network, TLS, client-side errors). */
  readonly noReply?: true;
  readonly personMustAct?: boolean;
}

/**
 * delivered: the upstream took it.
 * defer: try again later per the retry schedule (counts an attempt).
 * fail: permanent; the recipient fails and the sender gets one DSN.
 * keep: the message is not at fault: it stays due, no attempt is counted, and the account's
 *   state (throttled, held, waiting) decides when anything is tried again.
 */
export type ConditionAction = 'delivered' | 'defer' | 'fail' | 'keep';

/** What a condition does to the account (src/delivery/account-states.ts turns it into a state). */
export type ConditionEvent =
  | 'none'
  | 'delivered'
  | 'throttled'
  | 'sign-in-refused'
  | 'admin-action-required'
  | 'identity-provider-unreachable'
  | 'upstream-unreachable'
  | 'tls-failed';

export type SignInMethod = 'client-credentials' | 'delegated';

/** A fix text, per sign-in method when the two differ; {mailbox}, {account}, ... are filled in. */
export type FixText = string | { readonly [method in SignInMethod]: string };

export interface Condition {
  /** Stable id: stored in queue records and last errors, used as a metrics label. */
  readonly id: string;
  /** Absent: never matched, only named by id (e.g. "local-error"). */
  readonly when?: ConditionMatch | { readonly any: readonly ConditionMatch[] };
  readonly action: ConditionAction;
  readonly event: ConditionEvent;
  /** One sentence for logs, status and DSNs. */
  readonly meaning: string;
  /** The next step for status, doctor and send-test; absent when there is nothing to do. */
  readonly fix?: FixText;
  /** Public reference: a Microsoft Learn page or an RFC. */
  readonly source: string;
  /** For throttling: pause this long instead of the growing backoff. */
  readonly pauseSeconds?: number;
  /** Retry once with a freshly redeemed token before holding the account (535 5.7.3). */
  readonly refreshTokenFirst?: true;
  /** Entra: a shorter wording per AADSTS code, for "cannot get a token: ..." messages. */
  readonly details?: Readonly<Record<string, string>>;
  /** HTTP upstreams: the SMTP reply (basic code, RFC 3463 enhanced code) records and DSNs show. */
  readonly smtpEquivalent?: readonly [number, string];
}
