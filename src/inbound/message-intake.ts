/**
 * End of the SMTP transaction: DATA streams into the spool, the From header is checked
 * against the account chosen at MAIL FROM, and only once the record is committed does the
 * client get 250 (docs/architecture.md, "Queue, not pass-through"). Any failure leaves nothing queued.
 */
import { finished } from 'node:stream';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { AccountConfig } from '../core/config.js';
import { SmtpReplyError } from '../core/errors.js';
import { inboundReply, inboundReplyCausedBy } from '../core/inbound-replies.js';
import type { Logger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { composeHeaderRewrites, HeaderRewriter, type HeaderRewrite } from './header-rewriter.js';
import { allowedSenders, checkHeaderSenders } from './sender-policy.js';
import { rewriteSenderHeaders } from './sender-rewrite.js';
import type { TransactionSender } from './transaction-sender.js';
import type { MessageSink, NewRecordFields, SpooledDraft } from './types.js';

export interface IntakeDependencies {
  readonly sink: MessageSink;
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  readonly onAccepted?: ((record: QueueRecord) => void) | undefined;
  /** Header changes for every message (e.g. Date, Message-ID), applied before the sender rewrite. */
  readonly headerRewrites?: readonly HeaderRewrite[] | undefined;
  /** Header changes that depend on the transaction (Received, Message-ID's domain), applied first. */
  readonly transactionHeaders?: ((session: SMTPServerSession, account: AccountConfig) => HeaderRewrite) | undefined;
}

/** RFC 1870 6.1 and RFC 3463 5.3.4: message too big for system. */
export function messageTooBig(maxMessageBytes: number): SmtpReplyError {
  return inboundReply('message-too-big', maxMessageBytes);
}

/** A committed message: the 250's text, and what follows once the client has it. */
export interface AcceptedMessage {
  /** smtp-server prefixes only the code: "250 2.0.0 queued as <id>". */
  readonly reply: string;
  /**
   * Logs the acceptance and hands the record to delivery. Called after the reply is written:
   * a log line costs its writes to the file and stdout (tens of microseconds), and the legacy
   * program waits for nothing but its 250. Never throws.
   */
  readonly announce: () => void;
}

/** Receives one message. Rejects with the SmtpReplyError the client gets. */
export async function receiveMessage(
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  account: AccountConfig,
  deps: IntakeDependencies,
  sender: TransactionSender = { account },
): Promise<AcceptedMessage> {
  const rewrite = sender.rewrite;
  const headers = new HeaderRewriter(
    composeHeaderRewrites(
      ...(deps.transactionHeaders === undefined ? [] : [deps.transactionHeaders(session, account)]),
      ...(deps.headerRewrites ?? []),
      ...(rewrite === undefined ? [] : [rewriteSenderHeaders(rewrite)]),
    ),
  );
  // Errors on the stream: the ones destroyed into it below (client gone, too big), reported
  // through clientGone and sizeExceeded, and the rewriter's refusal of the header block
  // (header-block.ts), which is the reply whatever the sink makes of the error it sees. An
  // 'error' nobody listens to must never take the relay down.
  let headerRefusal: SmtpReplyError | undefined;
  headers.on('error', (err: unknown) => {
    if (err instanceof SmtpReplyError) headerRefusal ??= err;
  });
  let clientGone: Error | undefined;
  // smtp-server destroys the stream when the client disconnects before the final dot:
  // pass that on so the sink stops and removes what it wrote.
  finished(stream, (err) => {
    if (err === undefined || err === null) return;
    clientGone = err;
    headers.destroy(err);
  });
  // Stop writing as soon as the message is too big rather than spooling the rest of it.
  stream.on('data', () => {
    if (stream.sizeExceeded && !headers.destroyed) headers.destroy(messageTooBig(deps.maxMessageBytes));
  });
  stream.pipe(headers);

  let draft: SpooledDraft;
  try {
    draft = await deps.sink.receive(headers);
  } catch (err) {
    drainRest(stream, headers);
    // smtp-server replies only after the last byte anyway: wait for it, so that a message that
    // also turns out too big gets 552 whichever limit it hit first.
    if (clientGone === undefined) await streamEnded(stream);
    if (stream.sizeExceeded) throw messageTooBig(deps.maxMessageBytes);
    if (clientGone !== undefined) throw clientDisconnected(clientGone);
    if (headerRefusal !== undefined) throw headerRefusal;
    throw asStorageError(err, deps.logger);
  }

  let record: QueueRecord;
  try {
    if (clientGone !== undefined) throw clientDisconnected(clientGone);
    if (stream.sizeExceeded) throw messageTooBig(deps.maxMessageBytes);
    // What leaves for Exchange is checked, after every rewrite: the From, Sender and Resent-
    // fields Exchange and the recipients will read (a rewritten sender replaced From already).
    checkHeaderSenders(headers.emittedHeaderBlock, sender.allowedFrom ?? allowedSenders(account));
    record = await draft.commit(recordFields(session, account, rewrite?.mailbox));
  } catch (err) {
    await draft.discard().catch((discardError: unknown) => {
      deps.logger.error({ err: discardError, id: draft.id }, 'could not discard a refused message');
    });
    if (err instanceof SmtpReplyError) throw err;
    throw asStorageError(err, deps.logger);
  }

  // Committed: from here on nothing may turn the reply into an error, or the client would
  // send again a message that is already queued.
  return { reply: `2.0.0 queued as ${record.id}`, announce: () => announceAccepted(record, account, rewrite?.original, deps) };
}

function announceAccepted(record: QueueRecord, account: AccountConfig, originalSender: string | undefined, deps: IntakeDependencies): void {
  try {
    deps.logger.info(
      {
        id: record.id,
        account: account.name,
        from: record.mailFrom,
        rcpt: record.recipients.length,
        size: record.size,
        client: record.client.address,
      },
      'message accepted',
    );
    if (originalSender !== undefined) deps.logger.info({ id: record.id, from: originalSender, to: record.mailFrom }, 'sender rewritten');
    deps.onAccepted?.(record);
  } catch (err) {
    deps.logger.error({ err, id: record.id }, 'onAccepted failed; the message stays queued');
  }
}

function recordFields(session: SMTPServerSession, account: AccountConfig, rewrittenSender?: string): NewRecordFields {
  const envelope = session.envelope;
  const helo = session.hostNameAppearsAs;
  return {
    kind: 'message',
    account: account.name,
    client: typeof helo === 'string' && helo !== '' ? { address: session.remoteAddress, helo } : { address: session.remoteAddress },
    mailFrom: rewrittenSender ?? (envelope.mailFrom === false ? '' : envelope.mailFrom.address),
    recipients: envelope.rcptTo.map((recipient) => recipient.address),
  };
}

/**
 * smtp-server answers only after the DATA stream ended; when the sink stopped reading, the
 * rest of the message has to be read and dropped or the client would wait for ever.
 */
function drainRest(stream: SMTPServerDataStream, headers: HeaderRewriter): void {
  stream.unpipe(headers);
  headers.destroy();
  stream.resume();
}

function streamEnded(stream: SMTPServerDataStream): Promise<void> {
  return new Promise((resolve) => finished(stream, () => resolve()));
}

/** Nobody reads this reply; it only ends the transaction (RFC 5321 4.1.1.4). */
function clientDisconnected(cause: Error): SmtpReplyError {
  return inboundReplyCausedBy(cause, 'transfer-interrupted');
}

function asStorageError(err: unknown, logger: Logger): SmtpReplyError {
  if (err instanceof SmtpReplyError) return err;
  logger.error({ err }, 'could not store a message');
  return inboundReplyCausedBy(err, 'store-failed');
}
