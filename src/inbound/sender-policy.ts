/**
 * Which account sends a message, and whether the message may claim its sender.
 *
 * Exchange Online refuses a message whose sender the mailbox may not send as with
 * "5.7.60 SendAsDenied" (docs/microsoft-365.md), long after the legacy program was told 250. We check the
 * same rule here, at MAIL FROM and on every header field that names a sender (From, Sender,
 * Resent-From, Resent-Sender: RFC 5322 3.6.2 and 3.6.6), so the program sees the error at once
 * and no field Exchange or a mail client shows as the sender escapes the check.
 * Addresses compare with ASCII case folded (ascii-case.ts): that is what Exchange does with SMTP
 * addresses, though RFC 5321 2.4 leaves local parts case-sensitive in general.
 */
import emailAddresses from 'email-addresses';
import type { AccountConfig } from '../core/config.js';
import { SmtpReplyError } from '../core/errors.js';
import { asciiLowerCase } from './ascii-case.js';
import { headerFields } from './header-fields.js';
import { inventedSenderFix } from './sender-rewrite.js';

/** ASCII-lower-cased sender address to the one account that may use it (config.ts guarantees one). */
export type SenderIndex = ReadonlyMap<string, AccountConfig>;

export function buildSenderIndex(accounts: readonly AccountConfig[]): SenderIndex {
  const index = new Map<string, AccountConfig>();
  for (const account of accounts) {
    for (const address of allowedSenders(account)) index.set(address, account);
  }
  return index;
}

/** The account's mailbox and sendAs, ASCII-lower-cased. */
export function allowedSenders(account: AccountConfig): string[] {
  return [account.mailbox, ...account.sendAs].map(asciiLowerCase);
}

/**
 * The account for MAIL FROM:<address>, or the 550 5.7.1 the client should see. `clientAddress`
 * lets the refusal tell an invented device sender (fix: listen.rewriteSender) from a missing sendAs.
 */
export function accountForEnvelopeSender(index: SenderIndex, address: string, clientAddress?: string): AccountConfig {
  // The null sender is for bounces (RFC 5321 4.5.5); we generate our own DSNs and never
  // relay a client's bounce, which Exchange would send under the account's name.
  if (address === '') {
    throw new SmtpReplyError(550, '5.7.1', 'Sender <> is not allowed: this relay does not forward bounces');
  }
  const account = index.get(asciiLowerCase(address));
  if (account === undefined) {
    const invented = inventedSenderFix(address, clientAddress, index);
    throw new SmtpReplyError(
      550,
      '5.7.1',
      `Sender <${address}> is not allowed: ${invented ?? 'add it to "sendAs" of an account in the relay\'s configuration'}`,
    );
  }
  return account;
}

/**
 * The header fields that name a sender, with the RFC 5322 production their body must be:
 * From is a mailbox-list (3.6.2; a group is not allowed there), Sender a single mailbox, and
 * the Resent- fields (3.6.6) the same. `once`: RFC 5322 3.6 allows one From and one Sender.
 */
const SENDER_FIELDS = [
  { name: 'from', label: 'From', production: 'mailbox-list', once: true },
  { name: 'sender', label: 'Sender', production: 'mailbox', once: true },
  { name: 'resent-from', label: 'Resent-From', production: 'mailbox-list', once: false },
  { name: 'resent-sender', label: 'Resent-Sender', production: 'mailbox', once: false },
] as const;

/**
 * Every mailbox of every sender field in `headerBlock` (the block as it leaves for Exchange)
 * must be one of `allowedSenderList` (ASCII-lower-cased): the account's senders, or a local
 * user's narrower list. A message needs exactly one From. A field that is not a valid mailbox
 * list (`<a@x> <b@y>`, `a@x b@y`, `b@y\ <a@x>`) is refused rather than read one way here and
 * another way by Exchange or a mail client.
 */
export function checkHeaderSenders(headerBlock: string, allowedSenderList: readonly string[]): void {
  const allowed = new Set(allowedSenderList);
  const fields = headerFields(headerBlock);
  for (const rule of SENDER_FIELDS) {
    const values = fields.filter((field) => field.name === rule.name).map((field) => field.body);
    if (rule.name === 'from' && values.length === 0) {
      throw new SmtpReplyError(550, '5.7.1', 'Message has no From header: add one with an address allowed for this sender');
    }
    if (rule.once && values.length > 1) {
      throw new SmtpReplyError(550, '5.6.0', `Message has ${values.length} ${rule.label} fields; RFC 5322 3.6 allows one`);
    }
    for (const value of values) {
      for (const address of mailboxAddresses(value, rule.production, rule.label)) {
        if (!allowed.has(asciiLowerCase(address))) {
          throw new SmtpReplyError(550, '5.7.1', `${rule.label} header address <${address}> is not allowed for this sender`);
        }
      }
    }
  }
}

/**
 * Field bodies already parsed, by production and exact text. A legacy program sends the same
 * From on every message, and the parse (email-addresses, a PEG parser) was 60-80 µs of each
 * submission in a profile (docs/performance.md). The parse is a pure function of the text, so a
 * cache keyed by the whole text gives the same answer; `undefined` remembers an invalid body.
 */
const parsedBodies = new Map<string, readonly string[] | undefined>();
const PARSED_BODIES_KEPT = 256;

/** The addresses of a mailbox or mailbox-list field body, or the 550 for one that is not valid. */
function mailboxAddresses(value: string, production: 'mailbox' | 'mailbox-list', label: string): readonly string[] {
  const key = `${production}\n${value}`;
  if (!parsedBodies.has(key)) {
    if (parsedBodies.size >= PARSED_BODIES_KEPT) parsedBodies.clear();
    parsedBodies.set(key, parseMailboxes(value, production));
  }
  const addresses = parsedBodies.get(key);
  if (addresses === undefined) {
    throw new SmtpReplyError(
      550,
      '5.7.1',
      `${label} header has no valid address: write it as "Name <address>" with one address allowed for this sender (RFC 5322 3.4)`,
    );
  }
  return addresses;
}

function parseMailboxes(value: string, production: 'mailbox' | 'mailbox-list'): readonly string[] | undefined {
  // rfc6532: UTF-8 in names and addresses (SMTPUTF8). Not `strict`: obsolete phrases such as
  // "John Q. Public" (RFC 5322 4.1) are common in what programs write and read the same everywhere.
  const parsed = emailAddresses({ input: value, startAt: production, rfc6532: true });
  const mailboxes = parsed?.addresses.filter((entry) => entry.type === 'mailbox') ?? [];
  if (parsed === null || mailboxes.length === 0 || mailboxes.length !== parsed.addresses.length) return undefined;
  return mailboxes.map((mailbox) => ('address' in mailbox ? mailbox.address : ''));
}
