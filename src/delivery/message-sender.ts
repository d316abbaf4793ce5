/**
 * The scheduler's view of an upstream connection pool: send one spooled message to some of its
 * recipients and say, per recipient, what happened. upstream-transport.ts is the real one;
 * tests script their own.
 */
import type { QueueRecord } from '../core/queue-record.js';
import type { Classification } from './reply-classification.js';

export interface UpstreamReply {
  /** Basic reply code; absent for network, TLS and client-side errors. */
  readonly code?: number | undefined;
  /** The reply line or the error message (never a token). */
  readonly text: string;
  /** Node or nodemailer error code (ECONNREFUSED, ETLS, EAUTH, EENVELOPE, ...). */
  readonly errorCode?: string | undefined;
  /** Set by a sender whose upstream has its own table (Microsoft Graph); classifyReply returns it. */
  readonly classification?: Classification | undefined;
}

export interface RejectedRecipient {
  readonly address: string;
  readonly reply: UpstreamReply;
}

export type SendResult =
  /** The transaction completed: `response` is the final "250 ... queued as" reply. */
  | {
      readonly kind: 'sent';
      readonly response: string;
      readonly accepted: readonly string[];
      readonly rejected: readonly RejectedRecipient[];
    }
  /** Every recipient was refused at RCPT TO, each with its own reply. */
  | { readonly kind: 'rejected'; readonly rejected: readonly RejectedRecipient[] }
  /** The whole transaction failed (connection, TLS, AUTH, MAIL FROM or DATA). */
  | { readonly kind: 'failed'; readonly reply: UpstreamReply }
  /** The token provider says a person must act (SignInRequiredError). */
  | { readonly kind: 'sign-in-required'; readonly reason: string }
  /** The token provider failed for a transient reason (network): try again soon. */
  | { readonly kind: 'token-unavailable'; readonly reason: string };

export interface SendOptions {
  /** Redeem a new access token before authenticating (after Exchange answered 535 5.7.3). */
  readonly forceTokenRefresh?: boolean;
}

export interface MessageSender {
  send(record: QueueRecord, recipients: string[], options?: SendOptions): Promise<SendResult>;
  /** Closes pooled connections; further sends fail. */
  close(): void;
}
