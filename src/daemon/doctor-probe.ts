/**
 * doctor's probe of the upstream and how a failed check is worded: the connection uses the
 * delivery transport's TLS rules, and the fix comes from the catalogue (src/health/fixes.ts).
 */
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Config } from '../core/config.js';
import { upstreamTlsOptions } from '../delivery/index.js';
import { findFix, problemOf, type FixContext } from '../health/fixes.js';
import type { CheckResult } from './doctor.js';

/** A doctor must answer in a human's patience even when the configured timeout is long. */
const MAX_PROBE_TIMEOUT_MS = 20_000;

/**
 * One short-lived connection with the delivery transport's TLS rules (upstream-transport.ts).
 * nodemailer is imported here, not at the top: the daemon loads this file at start, and only
 * `doctor` needs it (docs/performance.md, "Memory").
 */
export async function probeTransport(config: Config, oauth: { user: string; accessToken: string; expires: number } | undefined) {
  const { host, port, connectionTimeoutSeconds } = config.upstream;
  const timeout = Math.min(connectionTimeoutSeconds * 1000, MAX_PROBE_TIMEOUT_MS);
  const options: SMTPTransport.Options = {
    host,
    port,
    secure: false,
    // STARTTLS is mandatory (RFC 3207), and so is a verified certificate.
    requireTLS: true,
    // The very settings delivery uses.
    tls: upstreamTlsOptions(config.upstream),
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
    debug: false,
    ...(oauth === undefined ? {} : { auth: { type: 'OAuth2' as const, ...oauth } }),
  };
  const { default: nodemailer } = await import('nodemailer');
  return nodemailer.createTransport(options);
}

export function failure(check: string, account: string | undefined, finding: string, error: unknown, context: FixContext): CheckResult {
  const fix = findFix(problemOf(error), context);
  return {
    check,
    ...(account === undefined ? {} : { account }),
    status: 'fail',
    finding: fix === undefined ? finding : `${finding} (${fix.meaning})`,
    fix: fix?.fix ?? 'no known fix for this error: see the log and docs/exchange-replies.md',
  };
}

/** The error in one line: nodemailer's reply when there is one, Node's code otherwise. */
export function describe(error: unknown): string {
  const { response, code, originalCode, message } = error as { response?: string; code?: string; originalCode?: string; message?: string };
  if (typeof response === 'string' && response.length > 0) return response;
  const codes = [code, originalCode].filter((value): value is string => typeof value === 'string');
  const text = (message ?? String(error)).split('\n')[0] ?? '';
  return codes.length === 0 || codes.every((c) => text.includes(c)) ? text : `${text} [${codes.join(', ')}]`;
}
