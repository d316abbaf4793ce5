/**
 * The smtp-server hooks: who may connect, which account sends, how many recipients, and
 * the end of DATA. Each hook answers through its callback; an SmtpReplyError becomes the
 * reply (smtp-server sends `responseCode` and the message, which starts with the enhanced
 * status code of RFC 3463).
 */
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { inboundReply } from '../core/inbound-replies.js';
import type { ClientLimits } from './client-limits.js';
import type { ConnectionSlots } from './connection-slots.js';
import { clientRefusal, type ClientPolicy } from './client-policy.js';
import { receiveMessage, type IntakeDependencies } from './message-intake.js';
import { accountForEnvelopeSender, type SenderIndex } from './sender-policy.js';
import type { SenderPlanner, TransactionSender } from './transaction-sender.js';

export interface HookDependencies extends IntakeDependencies {
  readonly clientPolicy: ClientPolicy;
  readonly senders: SenderIndex;
  readonly maxRecipients: number;
  /** False once the daemon stops taking new work. */
  readonly isAccepting: () => boolean;
  /** listen.connections: the loopback and LAN pools; absent in tests that do not exercise it. */
  readonly connectionSlots?: ConnectionSlots;
  /** listen.perClient; absent in tests that do not exercise it. */
  readonly clientLimits?: ClientLimits;
  /** Local users, AUTH modes and sender rewriting (transaction-sender.ts); by sender address alone when absent. */
  readonly planSender?: SenderPlanner;
}

type Hooks = Required<Pick<SMTPServerOptions, 'onConnect' | 'onMailFrom' | 'onRcptTo' | 'onData' | 'onClose'>>;

export function createSessionHooks(deps: HookDependencies): Hooks {
  // smtp-server makes a new envelope object for every transaction (MAIL ... DATA, RSET):
  // keyed on it, the account chosen at MAIL FROM cannot leak into the next transaction.
  const senderOfTransaction = new WeakMap<object, TransactionSender>();
  const planSender: SenderPlanner =
    deps.planSender ?? ((mailFrom: string) => ({ account: accountForEnvelopeSender(deps.senders, mailFrom) }));
  const countedSessions = new WeakSet<SMTPServerSession>();
  const slottedSessions = new WeakSet<SMTPServerSession>();

  return {
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      // RFC 5321 3.8: a server going down answers 421 and closes.
      if (!deps.isAccepting()) return callback(inboundReply('shutting-down'));
      if (!deps.clientPolicy(session.remoteAddress)) {
        deps.logger.warn({ client: session.remoteAddress }, 'refused a client outside listen.allowClients');
        return callback(clientRefusal(session.remoteAddress));
      }
      try {
        deps.connectionSlots?.admit(session.remoteAddress);
      } catch (err) {
        deps.logger.warn({ client: session.remoteAddress }, 'refused a connection: its listen.connections pool is full');
        return callback(err as Error);
      }
      if (deps.connectionSlots !== undefined) slottedSessions.add(session);
      try {
        deps.clientLimits?.admitConnection(session.remoteAddress);
      } catch (err) {
        deps.logger.warn({ client: session.remoteAddress }, 'refused a connection over listen.perClient.maxConnections');
        return callback(err as Error);
      }
      // onClose runs for every connection, also those refused above: release only what was counted.
      if (deps.clientLimits !== undefined) countedSessions.add(session);
      callback();
    },

    onClose(session: SMTPServerSession): void {
      if (slottedSessions.delete(session)) deps.connectionSlots?.release(session.remoteAddress);
      if (!countedSessions.delete(session)) return;
      deps.clientLimits?.releaseConnection(session.remoteAddress);
    },

    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      try {
        deps.clientLimits?.admitMessage(session.remoteAddress);
      } catch (err) {
        deps.logger.warn({ client: session.remoteAddress }, 'refused a message over listen.perClient.messagesPerMinute');
        return callback(err as Error);
      }
      try {
        senderOfTransaction.set(session.envelope, planSender(address.address, session));
        callback();
      } catch (err) {
        deps.logger.warn({ from: address.address, client: session.remoteAddress }, 'refused a sender');
        callback(err as Error);
      }
    },

    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      const recipients = session.envelope.rcptTo;
      const repeated = recipients.some((recipient) => recipient.address.toLowerCase() === address.address.toLowerCase());
      // RFC 5321 4.5.3.1.10: 452 for too many recipients, the client sends the rest in
      // another transaction. Ours, not smtp-server's maxRecipients, to get our reply text.
      if (!repeated && recipients.length >= deps.maxRecipients) {
        return callback(inboundReply('too-many-recipients'));
      }
      callback();
    },

    onData(
      stream: SMTPServerDataStream,
      session: SMTPServerSession,
      callback: (err?: Error | null, message?: string) => void,
    ): void {
      const sender = senderOfTransaction.get(session.envelope);
      if (sender === undefined) {
        // smtp-server only starts DATA after an accepted MAIL FROM; this is a bug if seen.
        stream.resume();
        return callback(inboundReply('no-sender-account'));
      }
      receiveMessage(stream, session, sender.account, deps, sender).then(
        (accepted) => {
          // smtp-server writes the 250 inside the callback; the bookkeeping comes after it.
          callback(null, accepted.reply);
          accepted.announce();
        },
        (err: unknown) => callback(err as Error),
      );
    },
  };
}
