/**
 * The trace field a server adds when it takes a message (RFC 5321 4.4: "When an SMTP server
 * receives a message for delivery or further processing, it MUST insert trace ('time stamp'
 * or 'Received') information at the beginning of the message content"). Form, RFC 5321 4.4:
 *
 *   Received: from <helo> ([<client address>]) by <listen.name> (smtp-oauth-relay)
 *     with <ESMTP|ESMTPS|ESMTPA|ESMTPSA|SMTP>; <date-time>
 *
 * "with" follows RFC 3848 (S for TLS, A for AUTH). For a program on this machine (loopback)
 * the address literal is left out: it says nothing and every message would carry it. No
 * "for <recipient>": Bcc recipients would show (RFC 5321 7.2). Everything copied from the
 * client is reduced to the characters a domain or address literal allows, so nothing the
 * client wrote can end the field or start another one.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { Clock } from '../core/clock.js';
import { isLoopbackClient, normalizeClientAddress } from './client-policy.js';
import { EOL, type HeaderRewrite } from './header-rewriter.js';
import { rfc5322Date } from './submission-headers.js';

/** RFC 5321 4.1.3/4.1.2: domain or address-literal characters only, and not too long. */
function traceToken(text: string): string {
  return text.replace(/[^A-Za-z0-9.\-_:[\]]/g, '').slice(0, 255) || 'unknown';
}

/** RFC 3848 protocol type of the session as smtp-server names it (ESMTP, ESMTPS, ESMTPSA, SMTP...). */
function protocolOf(session: SMTPServerSession): string {
  const type = session.transmissionType;
  return typeof type === 'string' && /^[A-Z]{4,8}$/.test(type) ? type : 'ESMTP';
}

export function receivedHeader(session: SMTPServerSession, serverName: string, clock: Pick<Clock, 'now'>): string {
  const helo = typeof session.hostNameAppearsAs === 'string' ? session.hostNameAppearsAs : '';
  const address = normalizeClientAddress(session.remoteAddress);
  const literal = isLoopbackClient(address) ? '' : ` ([${address.includes(':') ? 'IPv6:' : ''}${traceToken(address)}])`;
  return (
    `Received: from ${traceToken(helo)}${literal}${EOL}` +
    `\tby ${traceToken(serverName)} (smtp-oauth-relay) with ${protocolOf(session)};${EOL}` +
    `\t${rfc5322Date(clock.now())}${EOL}`
  );
}

/** Puts the Received field in front of the header fields (RFC 5321 4.4: "at the beginning"). */
export function addReceived(session: SMTPServerSession, serverName: string, clock: Pick<Clock, 'now'>): HeaderRewrite {
  return (headerBlock) => receivedHeader(session, serverName, clock) + headerBlock;
}
