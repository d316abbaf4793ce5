/**
 * Decides at MAIL FROM who sends: the account, the addresses the From field may carry, and
 * whether the sender is rewritten. Three cases, strictest first:
 * - a local user (AUTH) sends for its own account only: MAIL FROM must be the account's
 *   mailbox or sendAs, narrowed to the user's sendAs when it has one. No address of another
 *   account is ever accepted for it, whatever the address (550 5.7.1).
 * - a user with rewriteSender, or a client in listen.rewriteSender, may give any sender: it
 *   becomes the account's mailbox (sender-rewrite.ts).
 * - anyone else (no AUTH, or 'accept-any') is matched by sender address, as before.
 * In 'required' mode MAIL without AUTH gets 530 5.7.0 (RFC 4954 section 6); in any mode so does
 * MAIL after a failed AUTH while local users exist (docs/message-integrity.md, "auth: optional").
 */
import type { SMTPServerSession } from 'smtp-server';
import type { AccountConfig } from '../core/config.js';
import { inboundReply } from '../core/inbound-replies.js';
import { asciiLowerCase } from './ascii-case.js';
import { localUserOf, sessionUser, type AuthMode } from './local-auth.js';
import { accountForEnvelopeSender, allowedSenders, type SenderIndex } from './sender-policy.js';
import type { RewriteRules, SenderRewrite } from './sender-rewrite.js';

export interface TransactionSender {
  readonly account: AccountConfig;
  /** ASCII-lower-cased addresses the sender fields may use; all of the account's when undefined. */
  readonly allowedFrom?: readonly string[] | undefined;
  /** Present when envelope sender and From become the account's mailbox. */
  readonly rewrite?: SenderRewrite | undefined;
}

export interface SenderPlannerDependencies {
  readonly authMode: AuthMode;
  readonly senders: SenderIndex;
  readonly accounts: readonly AccountConfig[];
  readonly rewriteRules: RewriteRules;
  /** Whether AUTH failed in this session while local users exist (local-security.ts). */
  readonly authFailed?: (session: SMTPServerSession) => boolean;
}

export type SenderPlanner = (mailFrom: string, session: SMTPServerSession) => TransactionSender;

export function createSenderPlanner(deps: SenderPlannerDependencies): SenderPlanner {
  return (mailFrom, session) => {
    if (deps.authMode === 'required' && sessionUser(session) === undefined) {
      throw inboundReply('auth-required');
    }
    // 'optional' means "AUTH or no AUTH", not "a wrong password is as good as none" (RFC 4954 6).
    if (sessionUser(session) === undefined && deps.authFailed?.(session) === true) {
      throw inboundReply('auth-failed-in-session');
    }
    const user = localUserOf(session);
    if (user !== undefined) {
      const account = deps.accounts.find((candidate) => candidate.name === user.account);
      if (account === undefined) {
        throw inboundReply('user-account-missing', user.name, user.account);
      }
      if (user.rewriteSender) return rewritten(account, mailFrom);
      const allowed = userSenders(account, user.sendAs);
      if (!allowed.includes(asciiLowerCase(mailFrom))) {
        throw inboundReply('user-sender-refused', mailFrom, user.name);
      }
      return { account, allowedFrom: allowed };
    }
    const ruleAccount = deps.rewriteRules(session.remoteAddress);
    if (ruleAccount !== undefined) return rewritten(ruleAccount, mailFrom);
    return { account: accountForEnvelopeSender(deps.senders, mailFrom, session.remoteAddress) };
  };
}

/** The account's senders, narrowed to the user's own list when it has one. */
function userSenders(account: AccountConfig, userSendAs: readonly string[] | undefined): string[] {
  const accountSenders = allowedSenders(account);
  if (userSendAs === undefined) return accountSenders;
  const wanted = new Set(userSendAs.map(asciiLowerCase));
  return accountSenders.filter((address) => wanted.has(address));
}

/** Logged with the queue id once the message is accepted (message-intake.ts). */
function rewritten(account: AccountConfig, mailFrom: string): TransactionSender {
  return { account, rewrite: { original: mailFrom, mailbox: account.mailbox } };
}
