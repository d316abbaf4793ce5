/**
 * Which account sends a message, and whether the message may claim its sender.
 *
 * Exchange Online refuses a message whose sender the mailbox may not send as with
 * "5.7.60 SendAsDenied" (M365.md), long after the legacy program was told 250. We check the
 * same rule here, at MAIL FROM and on the From header, so the program sees the error at once.
 * Addresses compare case-insensitively: that is what Exchange does with SMTP addresses,
 * though RFC 5321 2.4 leaves local parts case-sensitive in general.
 */
import addressparser from 'nodemailer/lib/addressparser';
import type { AccountConfig } from '../core/config.js';
import { SmtpReplyError } from '../core/errors.js';

/** Lower-cased sender address to the one account that may use it (config.ts guarantees one). */
export type SenderIndex = ReadonlyMap<string, AccountConfig>;

export function buildSenderIndex(accounts: readonly AccountConfig[]): SenderIndex {
  const index = new Map<string, AccountConfig>();
  for (const account of accounts) {
    for (const address of allowedSenders(account)) index.set(address, account);
  }
  return index;
}

function allowedSenders(account: AccountConfig): string[] {
  return [account.mailbox, ...account.sendAs].map((address) => address.toLowerCase());
}

/** The account for MAIL FROM:<address>, or the 550 5.7.1 the client should see. */
export function accountForEnvelopeSender(index: SenderIndex, address: string): AccountConfig {
  // The null sender is for bounces (RFC 5321 4.5.5); we generate our own DSNs and never
  // relay a client's bounce, which Exchange would send under the account's name.
  if (address === '') {
    throw new SmtpReplyError(550, '5.7.1', 'Sender <> is not allowed: this relay does not forward bounces');
  }
  const account = index.get(address.toLowerCase());
  if (account === undefined) {
    throw new SmtpReplyError(
      550,
      '5.7.1',
      `Sender <${address}> is not allowed: add it to "sendAs" of an account in the relay's configuration`,
    );
  }
  return account;
}

/**
 * Every mailbox of every From field (RFC 5322 3.6.2) must be allowed for the account chosen
 * at MAIL FROM. `fromFieldValues` are the unfolded field bodies, one per From field found.
 */
export function checkHeaderFrom(
  account: AccountConfig,
  fromFieldValues: readonly string[],
  /** Lower-cased; narrower than the account's senders for a local user with its own sendAs. */
  allowedSenderList: readonly string[] = allowedSenders(account),
): void {
  if (fromFieldValues.length === 0) {
    throw new SmtpReplyError(550, '5.7.1', 'Message has no From header: add one with an address allowed for this sender');
  }
  const allowed = new Set(allowedSenderList);
  // flatten: a group ("Team: a@x, b@x;") is checked mailbox by mailbox. Display names,
  // quoted or RFC 2047 encoded-words, are left out by the parser: only addresses matter.
  const mailboxes = fromFieldValues.flatMap((value) => addressparser(value, { flatten: true }));
  const addresses = mailboxes.map((mailbox) => mailbox.address.trim()).filter((address) => address !== '');
  if (addresses.length === 0 || addresses.length !== mailboxes.length) {
    throw new SmtpReplyError(550, '5.7.1', 'From header has no valid address: give an address allowed for this sender');
  }
  for (const address of addresses) {
    if (!allowed.has(address.toLowerCase())) {
      throw new SmtpReplyError(550, '5.7.1', `From header address <${address}> is not allowed for this sender`);
    }
  }
}
