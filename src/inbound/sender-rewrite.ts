/**
 * Sender rewriting for devices that invent senders (scanners that send as
 * "scanner@printer.local"): Exchange would refuse them with 5.7.60 SendAsDenied (docs/microsoft-365.md), so
 * for the clients in listen.rewriteSender, and users with rewriteSender, the envelope sender
 * and the From field become the account's mailbox. The display name stays, so recipients still
 * see "Scanner 3rd floor", and the original address goes to Reply-To (RFC 5322 3.6.2) so that
 * replies still reach it, unless the message has a Reply-To already. Sender, Resent-From and
 * Resent-Sender fields are dropped: Exchange checks them against send-as rights as well, and they
 * would show the invented sender again. Only one From leaves, however many came in; the header
 * check (sender-policy.ts) then reads the result as it leaves.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import addressparser from 'nodemailer/lib/addressparser';
import type { AccountConfig } from '../core/config.js';
import { asciiLowerCase } from './ascii-case.js';
import { isLoopbackClient, normalizeClientAddress } from './client-policy.js';
import { headerFields } from './header-fields.js';
import { EOL, type HeaderRewrite } from './header-rewriter.js';

export interface RewriteRule {
  readonly client: string;
  readonly account: string;
}

/** The account whose mailbox replaces the senders of `clientAddress`, if it is listed. */
export type RewriteRules = (clientAddress: string) => AccountConfig | undefined;

export function createRewriteRules(rules: readonly RewriteRule[], accounts: readonly AccountConfig[]): RewriteRules {
  const matchers = rules.map((rule) => {
    const account = accounts.find((candidate) => candidate.name === rule.account);
    // config.ts checks the names; a wrong one here is a programming error.
    if (account === undefined) throw new Error(`listen.rewriteSender: no account named "${rule.account}"`);
    return { list: clientList(rule.client), account };
  });
  return (clientAddress) => {
    const address = normalizeClientAddress(clientAddress);
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    if (type === undefined) return undefined;
    return matchers.find((matcher) => matcher.list.check(address, type))?.account;
  };
}

/**
 * The fix for a refused envelope sender that looks invented, else undefined: its domain is none
 * of the accounts' (scanner@printer.local), or it comes from a device on the network rather
 * than a program on this machine. Adding an invented address to sendAs would not help: Exchange
 * refuses it with 5.7.60 unless the mailbox may send as it; rewriting sends as the mailbox.
 */
export function inventedSenderFix(
  address: string,
  clientAddress: string | undefined,
  accountsBySender: ReadonlyMap<string, AccountConfig>,
): string | undefined {
  const domain = asciiLowerCase(address.slice(address.lastIndexOf('@') + 1));
  const domains = new Set([...accountsBySender.keys()].map((sender) => sender.slice(sender.lastIndexOf('@') + 1)));
  const fromDevice = clientAddress !== undefined && !isLoopbackClient(clientAddress);
  if (domains.has(domain) && !fromDevice) return undefined;
  const accounts = new Set([...accountsBySender.values()].map((account) => account.name));
  const account = accounts.size === 1 ? [...accounts][0] : '<account>';
  const client = clientAddress === undefined ? '<client address>' : normalizeClientAddress(clientAddress);
  return (
    `it looks invented by the device; list the client in "listen.rewriteSender" ` +
    `({ "client": "${client}", "account": "${account}" }) so its mail goes out as the account's mailbox, ` +
    `or add the address to "sendAs" only if the mailbox may send as it`
  );
}

function clientList(entry: string): BlockList {
  const list = new BlockList();
  const [rawAddress = '', prefix] = entry.trim().split('/');
  const address = normalizeClientAddress(rawAddress);
  const type = isIPv4(address) ? 'ipv4' : 'ipv6';
  if (prefix === undefined) list.addAddress(address, type);
  else list.addSubnet(address, Number(prefix), type);
  return list;
}

/** `value` with its address replaced by `mailbox`, keeping the display name as it was written. */
function fromWithMailbox(value: string, mailbox: string): string {
  // name-addr (RFC 5322 3.4): keep every byte of the display name, replace the angle-addr.
  const angle = /<[^<>]*>(?![^<>]*<)/;
  if (angle.test(value)) {
    const mailboxes = addressparser(value, { flatten: true });
    const first = mailboxes[0];
    // Several mailboxes (RFC 5322 3.6.2 allows a From list): keep only the first one's name.
    if (mailboxes.length > 1 && first !== undefined) return first.name === '' ? mailbox : `${quoteName(first.name)} <${mailbox}>`;
    return value.replace(angle, `<${mailbox}>`);
  }
  // addr-spec, maybe with the name in a comment: "scan@x (Scanner)".
  const name = addressparser(value)[0]?.name ?? '';
  return name === '' ? mailbox : `${quoteName(name)} <${mailbox}>`;
}

/** A phrase of atext and spaces stays as it is (RFC 5322 3.2.3); anything else is quoted. */
function quoteName(name: string): string {
  return /^[\w !#$%&'*+/=?^`{|}~-]*$/.test(name) ? name : `"${name.replace(/(["\\])/g, '\\$1')}"`;
}

export interface SenderRewrite {
  /** The envelope sender the client gave. */
  readonly original: string;
  /** The account's mailbox that replaces it. */
  readonly mailbox: string;
}

/** The header part of the rewrite: From becomes the mailbox, Reply-To the original address. */
export function rewriteSenderHeaders(rewrite: SenderRewrite): HeaderRewrite {
  return (headerBlock) => {
    const fields = headerFields(headerBlock);
    const fromValue = fields.find((field) => field.name === 'from')?.body ?? '';
    const headerAddress = addressparser(fromValue, { flatten: true })[0]?.address ?? '';
    const replyTo = headerAddress !== '' ? headerAddress : rewrite.original;
    const newFrom = `From: ${fromValue === '' ? rewrite.mailbox : fromWithMailbox(fromValue, rewrite.mailbox)}${EOL}`;
    const hasReplyTo = fields.some((field) => field.name === 'reply-to');

    const out: string[] = [];
    let fromWritten = false;
    for (const field of fields) {
      if (DROPPED_FIELDS.has(field.name)) continue;
      if (field.name !== 'from') {
        out.push(field.raw);
        continue;
      }
      if (fromWritten) continue;
      out.push(newFrom);
      fromWritten = true;
    }
    if (!fromWritten) out.push(newFrom);
    if (!hasReplyTo && replyTo !== '' && asciiLowerCase(replyTo) !== asciiLowerCase(rewrite.mailbox)) out.push(`Reply-To: <${replyTo}>${EOL}`);
    return out.join('');
  };
}

/** Fields that name a sender besides From: they would carry the invented sender on. */
const DROPPED_FIELDS = new Set(['sender', 'resent-from', 'resent-sender']);
