/**
 * The TLS settings of every connection to the upstream: delivery uses them, and doctor checks
 * with exactly the same, so that a passing check means delivery will connect.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, rootCertificates, type ConnectionOptions, type SecureContext } from 'node:tls';
import type { Config } from '../core/config.js';

/** STARTTLS to a verified certificate, TLS 1.2 or later (RFC 8996; docs/exchange-replies.md), with an optional extra CA. */
export function upstreamTlsOptions(upstream: Config['upstream']): ConnectionOptions {
  return {
    minVersion: upstream.minTlsVersion,
    rejectUnauthorized: true,
    // SNI must be a host name, never an IP address (RFC 6066 section 3).
    ...(isIP(upstream.host) === 0 ? { servername: upstream.host } : {}),
    ...(upstream.caFile === undefined ? {} : { secureContext: trustedContext(upstream.caFile, upstream.minTlsVersion) }),
  };
}

/**
 * An explicit `ca` replaces Node's bundled roots, so keep them and append the extra CA.
 * Built once per transport: given `ca` instead, tls.connect would build a secure context for
 * every new upstream connection, parsing ~145 certificates (~25 ms with the event loop blocked,
 * stalling every inbound client; measured by bench/bench.ts). A secureContext replaces the
 * context options of tls.connect, so the minimum TLS version goes in it too.
 */
function trustedContext(caFile: string, minVersion: Config['upstream']['minTlsVersion']): SecureContext {
  return createSecureContext({ ca: [...rootCertificates, readFileSync(caFile, 'utf8')], minVersion });
}
