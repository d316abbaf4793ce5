/**
 * The smtp-server hooks: who may connect, which account sends, how many recipients, and
 * the end of DATA. Each hook answers through its callback; an SmtpReplyError becomes the
 * reply (smtp-server sends `responseCode` and the message, which starts with the enhanced
 * status code of RFC 3463).
 */
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { AccountConfig } from '../core/config.js';
import { SmtpReplyError } from '../core/errors.js';
import { clientRefusal, type ClientPolicy } from './client-policy.js';
import { receiveMessage, type IntakeDependencies } from './message-intake.js';
import { accountForEnvelopeSender, type SenderIndex } from './sender-policy.js';

export interface HookDependencies extends IntakeDependencies {
  readonly clientPolicy: ClientPolicy;
  readonly senders: SenderIndex;
  readonly maxRecipients: number;
  /** False once the daemon stops taking new work. */
  readonly isAccepting: () => boolean;
}

type Hooks = Required<Pick<SMTPServerOptions, 'onConnect' | 'onMailFrom' | 'onRcptTo' | 'onData'>>;

export function createSessionHooks(deps: HookDependencies): Hooks {
  // smtp-server makes a new envelope object for every transaction (MAIL ... DATA, RSET):
  // keyed on it, the account chosen at MAIL FROM cannot leak into the next transaction.
  const accountOfTransaction = new WeakMap<object, AccountConfig>();

  return {
    onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      // RFC 5321 3.8: a server going down answers 421 and closes.
      if (!deps.isAccepting()) return callback(new SmtpReplyError(421, '4.3.2', 'Service shutting down, try again later'));
      if (!deps.clientPolicy(session.remoteAddress)) {
        deps.logger.warn({ client: session.remoteAddress }, 'refused a client outside listen.allowClients');
        return callback(clientRefusal(session.remoteAddress));
      }
      callback();
    },

    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
      try {
        accountOfTransaction.set(session.envelope, accountForEnvelopeSender(deps.senders, address.address));
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
        return callback(new SmtpReplyError(452, '4.5.3', 'Too many recipients'));
      }
      callback();
    },

    onData(
      stream: SMTPServerDataStream,
      session: SMTPServerSession,
      callback: (err?: Error | null, message?: string) => void,
    ): void {
      const account = accountOfTransaction.get(session.envelope);
      if (account === undefined) {
        // smtp-server only starts DATA after an accepted MAIL FROM; this is a bug if seen.
        stream.resume();
        return callback(new SmtpReplyError(451, '4.3.0', 'Local error: no sender account for this transaction'));
      }
      receiveMessage(stream, session, account, deps).then(
        (reply) => callback(null, reply),
        (err: unknown) => callback(err as Error),
      );
    },
  };
}
