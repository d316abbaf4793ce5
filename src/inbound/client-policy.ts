/**
 * Which clients may connect: loopback always, anything else only when listen.allowClients
 * names it (an address or a CIDR range, IPv4 or IPv6). Never an open relay (docs/architecture.md, "Sender policy").
 * Matching is node:net's BlockList; we only normalize what it does not: IPv4-mapped IPv6
 * addresses (RFC 4291 2.5.5.2) are matched as the IPv4 address they carry, so a dual-stack
 * listener that reports ::ffff:192.168.1.20 matches the rule "192.168.1.20".
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { SmtpReplyError } from '../core/errors.js';
import { inboundReply } from '../core/inbound-replies.js';

export type ClientPolicy = (address: string) => boolean;

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;
/** The ::ffff:0:0/96 prefix takes the first 96 bits of a mapped address. */
const MAPPED_PREFIX_BITS = 96;

/** The address as it should be matched: zone id dropped, mapped IPv4 unwrapped. */
export function normalizeClientAddress(address: string): string {
  const withoutZone = address.trim().replace(/%.*$/, '');
  const mapped = MAPPED_IPV4.exec(withoutZone);
  return mapped?.[1] ?? withoutZone.toLowerCase();
}

/** 127.0.0.0/8 or ::1 (IPv4-mapped forms included): a program on this very machine. */
export function isLoopbackClient(address: string): boolean {
  const normalized = normalizeClientAddress(address);
  return normalized === '::1' || (isIPv4(normalized) && normalized.startsWith('127.'));
}

export function createClientPolicy(allowClients: readonly string[]): ClientPolicy {
  return createClientMatcher(allowClients, { loopback: true });
}

/**
 * Whether an address is one of `entries` (addresses or CIDR ranges), and loopback only when
 * `loopback` says so: for lists that grant something, such as listen.bareLineFeedClients.
 */
export function createClientMatcher(entries: readonly string[], options: { loopback: boolean }): ClientPolicy {
  const allowed = new BlockList();
  if (options.loopback) {
    allowed.addSubnet('127.0.0.0', 8, 'ipv4');
    allowed.addAddress('::1', 'ipv6');
  }
  for (const entry of entries) addRule(allowed, entry);

  const check = (address: string): boolean => {
    const normalized = normalizeClientAddress(address);
    if (isIPv4(normalized)) return allowed.check(normalized, 'ipv4');
    if (isIPv6(normalized)) return allowed.check(normalized, 'ipv6');
    return false;
  };
  // A session asks up to three times (connection, greeting, AUTH) and BlockList.check builds a
  // SocketAddress each time (about 9 us); the rules never change, and the local clients are few.
  const answers = new Map<string, boolean>();
  return (address) => {
    const known = answers.get(address);
    if (known !== undefined) return known;
    const answer = check(address);
    if (answers.size >= REMEMBERED_ADDRESSES) answers.clear();
    answers.set(address, answer);
    return answer;
  };
}

/** How many client addresses a policy remembers its answer for before it starts over. */
const REMEMBERED_ADDRESSES = 1024;

function addRule(list: BlockList, entry: string): void {
  const [rawAddress = '', rawPrefix] = entry.trim().split('/');
  const wasMapped = MAPPED_IPV4.test(rawAddress.trim());
  const address = normalizeClientAddress(rawAddress);
  const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  // The schema (core/config.ts) validated every entry; a wrong one here is a programming error.
  if (type === undefined) throw new Error(`listen.allowClients: "${entry}" is not an IP address or CIDR range`);
  if (rawPrefix === undefined) {
    list.addAddress(address, type);
    return;
  }
  const prefix = Number(rawPrefix);
  if (!wasMapped) {
    list.addSubnet(address, prefix, type);
    return;
  }
  // A mapped range shorter than /96 would reach beyond IPv4: refuse rather than guess.
  if (prefix < MAPPED_PREFIX_BITS) throw new Error(`listen.allowClients: "${entry}" needs a prefix of at least /96`);
  list.addSubnet(address, prefix - MAPPED_PREFIX_BITS, type);
}

/** The reply for a refused client (RFC 5321 3.1: 554 instead of the greeting, then close). */
export function clientRefusal(address: string): SmtpReplyError {
  return inboundReply('client-refused', normalizeClientAddress(address));
}
