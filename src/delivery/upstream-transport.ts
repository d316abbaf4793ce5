/**
 * One pooled nodemailer transport per account: STARTTLS is mandatory (requireTLS), the
 * certificate is verified, and AUTH XOAUTH2 gets its bearer token from the account's
 * TokenProvider through nodemailer's provisioning hook (`oauth2_provision_cb`, read by
 * nodemailer 10's smtp-pool/pool-resource.js for every new connection; `renew` is true when
 * the server refused the previous token, lib xoauth2 getToken(renew)).
 *
 * Exchange Online: smtp.office365.com:587, STARTTLS, TLS 1.2+, AUTH XOAUTH2 with
 * user=<mailbox> (https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth).
 */
import type { Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import type { AccountConfig, Config } from '../core/config.js';
import { readMessageStream, type MessageFile } from '../core/message-file.js';
import { releasingPassThrough } from '../core/transient-buffers.js';
import type { QueueRecord } from '../core/queue-record.js';
import { SignInRequiredError, type TokenProvider } from '../core/token.js';
import type { MessageSender, RejectedRecipient, SendOptions, SendResult, UpstreamReply } from './message-sender.js';
import { upstreamTlsOptions } from './upstream-tls.js';

/** Node/OpenSSL certificate and handshake error codes (DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID, ...). */
const TLS_ERROR_CODE = /CERT|^UNABLE_TO_|^ERR_TLS_|^ERR_SSL_/;

/** A large message on a slow uplink may take minutes between writes; Exchange allows 35 MB. */
const SOCKET_TIMEOUT_MS = 5 * 60 * 1000;

export interface UpstreamTransportOptions {
  readonly upstream: Config['upstream'];
  readonly account: AccountConfig;
  readonly tokens: TokenProvider;
  /** Name sent in EHLO; nodemailer uses the machine name when absent. */
  readonly clientName?: string;
  /** Where a record's message is (the spool's messageFile): only its first `size` bytes are sent. */
  readonly messageFile: (record: QueueRecord) => MessageFile;
}

/** The part of nodemailer's error we read; it copies the server's reply into these fields. */
interface NodemailerFailure extends Error {
  code?: string;
  originalCode?: string;
  responseCode?: number;
  response?: string;
  recipient?: string;
  rejectedErrors?: NodemailerFailure[];
}

export class UpstreamTransport implements MessageSender {
  private readonly options: UpstreamTransportOptions;
  /** Made at the first send: nodemailer is loaded only then (docs/performance.md, "Memory"). */
  private transporter: Transporter<SMTPPool.SentMessageInfo, SMTPPool.Options> | undefined;
  private readonly tokens: TokenProvider;
  /** The token the pool's connections authenticated with (never logged). */
  private connectedWith: string | undefined;
  private readonly messageFile: (record: QueueRecord) => MessageFile;
  /** Errors thrown by the token provider, so they are told apart from SMTP failures. */
  private readonly tokenErrors = new WeakSet<object>();
  private forceNextRefresh = false;

  constructor(options: UpstreamTransportOptions) {
    this.options = options;
    this.tokens = options.tokens;
    this.messageFile = options.messageFile;
  }

  private async pool(): Promise<Transporter<SMTPPool.SentMessageInfo, SMTPPool.Options>> {
    if (this.transporter !== undefined) return this.transporter;
    const { default: nodemailer } = await import('nodemailer');
    // Another send may have made it while this one waited for the import.
    this.transporter ??= this.createTransporter(nodemailer);
    return this.transporter;
  }

  private createTransporter(nodemailer: typeof import('nodemailer').default): Transporter<SMTPPool.SentMessageInfo, SMTPPool.Options> {
    const { upstream, account } = this.options;
    const timeoutMs = upstream.connectionTimeoutSeconds * 1000;
    const transporter = nodemailer.createTransport({
      pool: true,
      // Exchange Online: 3 concurrent connections per mailbox (Exchange Online limits).
      maxConnections: account.maxConnections,
      // The scheduler owns retries: a requeued half-read stream would send a truncated message.
      maxRequeues: 0,
      host: upstream.host,
      port: upstream.port,
      // Port 587 starts in plain text; requireTLS makes STARTTLS mandatory (RFC 3207), never a downgrade.
      secure: false,
      requireTLS: true,
      tls: upstreamTlsOptions(upstream),
      auth: { type: 'OAuth2', user: account.mailbox },
      ...(this.options.clientName === undefined ? {} : { name: this.options.clientName }),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: SOCKET_TIMEOUT_MS,
      // nodemailer's own logger would print the SMTP dialogue; we log outcomes ourselves.
      logger: false,
      debug: false,
    });
    transporter.set('oauth2_provision_cb', (_user, renew, callback) => {
      const forceRefresh = renew || this.forceNextRefresh;
      this.tokens.getToken({ forceRefresh }).then(
        (token) => {
          if (forceRefresh) this.forceNextRefresh = false;
          this.connectedWith = token.token;
          callback(null, token.token, token.expiresAt);
        },
        (error: unknown) => {
          const failure = error instanceof Error ? error : new Error(String(error));
          this.tokenErrors.add(failure);
          callback(failure);
        },
      );
    });
    return transporter;
  }

  /**
   * Pooled connections stay authenticated with the token they opened with. When the provider
   * now hands out another one (refreshed near expiry, or a new sign-in), the pool is replaced:
   * its connections finish what they send and close, and the next message opens a connection
   * with the new token.
   */
  private async renewPoolIfTokenChanged(): Promise<void> {
    if (this.connectedWith === undefined) return;
    const current = await this.tokens.getToken();
    if (current.token === this.connectedWith) return;
    this.replacePool();
  }

  /** The next send makes a new pool. */
  private replacePool(): void {
    this.transporter?.close();
    this.transporter = undefined;
    this.connectedWith = undefined;
  }

  async send(record: QueueRecord, recipients: string[], options: SendOptions = {}): Promise<SendResult> {
    try {
      if (options.forceTokenRefresh === true) {
        // After a 535: new connections redeem a new token first.
        this.forceNextRefresh = true;
        if (this.connectedWith !== undefined) this.replacePool();
      } else {
        await this.renewPoolIfTokenChanged();
      }
    } catch (error) {
      if (error instanceof Error) this.tokenErrors.add(error);
      return this.describeFailure(error);
    }
    const file = readMessageStream(this.messageFile(record));
    // Gives back the memory of what was already sent while a large message streams (docs/performance.md).
    const raw = file.pipe(releasingPassThrough());
    file.once('error', (error) => raw.destroy(error));
    try {
      // RFC 6152: 8-bit data must go out as BODY=8BITMIME, and the spool does not record how the
      // client declared it. BODY=8BITMIME means "a MIME message with arbitrary octets", which a
      // 7-bit message also is, so declare it always (nodemailer adds it only where the server
      // offers 8BITMIME, as Exchange Online does; without it a strict server may refuse or
      // mangle Latin-1 bodies from legacy programs).
      const envelope = { from: record.mailFrom, to: recipients, use8BitMime: true };
      const info = await (await this.pool()).sendMail({ raw, envelope });
      return {
        kind: 'sent',
        response: info.response,
        accepted: info.accepted.map(String),
        rejected: (info.rejectedErrors ?? []).map((error) => toRejected(error as NodemailerFailure)),
      };
    } catch (error) {
      return this.describeFailure(error);
    } finally {
      // A send that failed before reading the file must not leak its descriptor.
      file.destroy();
      raw.destroy();
    }
  }

  close(): void {
    this.transporter?.close();
    this.transporter = undefined;
  }

  private describeFailure(error: unknown): SendResult {
    if (error instanceof SignInRequiredError) return { kind: 'sign-in-required', reason: error.message };
    if (error instanceof Error && this.tokenErrors.has(error)) {
      return { kind: 'token-unavailable', reason: error.message };
    }
    const failure = error as NodemailerFailure;
    // RCPT TO refused for every recipient: each keeps its own reply (one may be 4xx, another 5xx).
    if (failure.code === 'EENVELOPE' && failure.rejectedErrors !== undefined && failure.rejectedErrors.length > 0) {
      return { kind: 'rejected', rejected: failure.rejectedErrors.map(toRejected) };
    }
    return { kind: 'failed', reply: replyOf(failure) };
  }
}


function replyOf(error: NodemailerFailure): UpstreamReply {
  if (error.responseCode !== undefined && error.response !== undefined) {
    return { code: error.responseCode, text: error.response, errorCode: error.code };
  }
  // Network and TLS errors: nodemailer's own code (ESOCKET, ECONNECTION, ETLS) says what failed,
  // except that a refused certificate arrives as ESOCKET with Node's code kept in originalCode.
  const tlsFailure = error.originalCode !== undefined && TLS_ERROR_CODE.test(error.originalCode);
  return { text: error.message, errorCode: tlsFailure ? 'ETLS' : (error.code ?? error.originalCode) };
}

function toRejected(error: NodemailerFailure): RejectedRecipient {
  return { address: error.recipient ?? '', reply: replyOf(error) };
}
