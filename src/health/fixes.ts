/**
 * Every Exchange and Entra error the relay meets, translated into the administrator's next step:
 * `doctor`, `send-test` and `status` read the fix of the condition from the one catalogue
 * (src/core/conditions, docs/exchange-replies.md). Fix texts are templates: {mailbox}, {account},
 * {clientId}, {tenantId}, {host} and {port} are filled from the account and the upstream.
 */

import { classify, fixFor, type FixContext, type Observation } from '../core/conditions/index.js';

export type { FixContext, SignInMethod } from '../core/conditions/index.js';

/** What went wrong, as seen by whoever met it: a reply, an error message, error codes. */
export interface Problem {
  /** The reply text or the error message (e.g. "535 5.7.139 Authentication unsuccessful ..."). */
  readonly text: string;
  /** Node, nodemailer or OpenSSL codes: ECONNREFUSED, ESOCKET, CERT_HAS_EXPIRED, ... */
  readonly errorCodes?: readonly (string | undefined)[];
  /** Where it was met, when the caller knows (a token request: "identity"). */
  readonly origin?: Observation['origin'];
}

export interface Fix {
  /** The catalogue condition's id. */
  readonly rule: string;
  readonly meaning: string;
  readonly fix: string;
  readonly source: string;
}

/** The catalogue's condition for the problem, with its fix filled from the context; undefined when nothing is to be done. */
export function findFix(problem: Problem, context: FixContext = {}): Fix | undefined {
  const code = /^\s*([2-5]\d\d)[\s-]/.exec(problem.text)?.[1];
  const condition = classify({
    origin: problem.origin,
    text: problem.text,
    code: code === undefined ? undefined : Number(code),
    errorCodes: problem.errorCodes?.filter((value): value is string => value !== undefined) ?? [],
  });
  const fix = fixFor(condition, context);
  if (fix === undefined) return undefined;
  return { rule: condition.id, meaning: condition.meaning, fix, source: condition.source };
}

/** Every error code an error carries: its own, nodemailer's kept original, and its causes'. */
export function errorCodesOf(error: unknown): string[] {
  const codes: string[] = [];
  for (let current: unknown = error, depth = 0; current !== null && typeof current === 'object' && depth < 5; depth += 1) {
    const { code, originalCode, errno } = current as { code?: unknown; originalCode?: unknown; errno?: unknown };
    for (const value of [code, originalCode, errno]) if (typeof value === 'string') codes.push(value);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/** Error message plus the reply nodemailer attached and the causes' messages, for matching. */
export function problemOf(error: unknown): Problem {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current !== null && current !== undefined && depth < 5; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.message);
      const response = (current as { response?: unknown }).response;
      if (typeof response === 'string' && !current.message.includes(response)) parts.push(response);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return { text: parts.join(' | '), errorCodes: errorCodesOf(error) };
}
