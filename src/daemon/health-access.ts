/**
 * Who may read the health endpoint (docs/security.md):
 * - the Host header must name this endpoint: a loopback name, health.host or one of
 *   health.allowedHosts. A web page in a local browser can make the browser send requests to
 *   127.0.0.1 under its own domain name (DNS rebinding) and read the answers; its Host header
 *   then carries that domain, which is refused with 421 Misdirected Request (RFC 9110 15.5.20).
 * - with a bearer token configured (health.tokenFile or health.tokenEnv, never inline),
 *   /status and /metrics need `Authorization: Bearer <token>` (RFC 6750 2.1), else 401.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Config } from '../core/config.js';
import { ConfigError } from '../core/errors.js';

/** Loopback per RFC 1122 3.2.1.3 (127/8) and RFC 4291 2.5.3 (::1). */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  const lower = host.toLowerCase();
  return lower === '::1' || lower.startsWith('::ffff:127.');
}

/** The host part of a Host header value ("[::1]:9465" -> "::1", "Localhost." -> "localhost"). */
export function hostOf(header: string): string {
  const value = header.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const withoutPort = value.replace(/:\d+$/, '');
  return withoutPort.replace(/\.$/, '');
}

export class HostAllowList {
  private readonly names: ReadonlySet<string>;

  constructor(configuredHost: string, allowedHosts: readonly string[] = []) {
    this.names = new Set([configuredHost, ...allowedHosts].map((name) => hostOf(name)));
  }

  allows(header: string | undefined): boolean {
    if (header === undefined || header === '') return false;
    const host = hostOf(header);
    return isLoopbackHost(host) || this.names.has(host);
  }
}

/** Compares in constant time (over digests, so the lengths do not leak either). */
export function bearerMatches(expected: string, authorization: string | undefined): boolean {
  const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (given === undefined) return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The bearer token from health.tokenFile or health.tokenEnv; undefined when neither is set.
 * A configured source that is empty, missing or (POSIX) readable by others is a configuration
 * error naming the field (exit 78), since the endpoint would otherwise be open or leaky.
 */
export function readHealthToken(health: Config['health'], configFile: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (health.tokenEnv !== undefined) {
    const value = env[health.tokenEnv]?.trim();
    if (value === undefined || value === '') throw new ConfigError(configFile, [`health.tokenEnv: the environment variable ${health.tokenEnv} is not set or empty`]);
    return value;
  }
  if (health.tokenFile === undefined) return undefined;
  let token: string;
  try {
    if (process.platform !== 'win32' && (statSync(health.tokenFile).mode & 0o077) !== 0) {
      throw new Error(`other users can read it: chmod 600 ${health.tokenFile}`);
    }
    token = readFileSync(health.tokenFile, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(configFile, [`health.tokenFile: cannot use ${health.tokenFile} (${(error as Error).message})`]);
  }
  if (token === '') throw new ConfigError(configFile, [`health.tokenFile: ${health.tokenFile} is empty`]);
  return token;
}
