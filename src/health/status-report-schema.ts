/**
 * The shape of `status --json` (status.schema.json, `npm run status-schema`): versioned, so
 * monitoring tools can rely on it. The rules that fill it are in status-report.ts.
 */
import { z } from 'zod';
import { ACCOUNT_STATES } from '../core/delivery-contracts.js';

export const STATUS_SCHEMA_VERSION = 1;

const isoTime = z.string().describe('ISO 8601 time (UTC).');
const level = z.enum(['ok', 'warning', 'critical', 'unknown']);

const accountReportSchema = z.object({
  name: z.string(),
  method: z.enum(['client-credentials', 'delegated']),
  mailbox: z.string(),
  state: z
    .enum(['ok', 'warning', 'critical', 'sign-in-required', 'admin-action-required'])
    .describe('sign-in-required: a person must sign in; admin-action-required: an administrator must fix the tenant, the app or the network.'),
  signedInAs: z.string().optional().describe('Delegated: the user who signed in.'),
  mailboxMatches: z.boolean().optional().describe('Delegated: whether that user is the mailbox.'),
  accessTokenExpiresAt: isoTime.optional(),
  lastRefreshAt: isoTime.optional().describe('Last successful token request.'),
  refreshTokenExpiresAt: isoTime.optional().describe('Delegated: predicted end of the 90-day refresh window.'),
  refreshTokenDaysLeft: z.number().int().optional().describe('Days until refreshTokenExpiresAt, rounded up (0 or negative once passed).'),
  clientSecretExpiresOn: z.string().optional().describe('App-only: the secret expiry date from the configuration (YYYY-MM-DD).'),
  clientSecretDaysLeft: z.number().int().optional(),
  keepAlive: z
    .object({ everyHours: z.number(), nextRunAt: isoTime.optional() })
    .optional()
    .describe('Delegated: the refresh that keeps the 90-day window sliding.'),
  delivery: z
    .object({
      state: z.enum(ACCOUNT_STATES),
      reason: z.string().optional(),
      condition: z.string().optional().describe('The catalogue condition (docs/exchange-replies.md) behind the state.'),
      since: isoTime.optional(),
      doing: z.string().optional().describe('What is happening, in one sentence.'),
      next: z.string().optional().describe('What happens next, and when.'),
      nextAttemptAt: isoTime.optional(),
    })
    .optional()
    .describe('What the running daemon does for this account (absent when it is down).'),
  lastDelivery: z.object({ at: isoTime, id: z.string() }).optional(),
  lastError: z.object({ at: isoTime, text: z.string(), condition: z.string().optional(), meaning: z.string() }).optional(),
});
export type AccountReport = z.infer<typeof accountReportSchema>;

const problemSchema = z.object({
  level: z.enum(['warning', 'critical']),
  account: z.string().optional(),
  text: z.string(),
  nextStep: z.string().optional(),
});
export type StatusProblem = z.infer<typeof problemSchema>;

export const statusReportSchema = z
  .object({
    schemaVersion: z.literal(STATUS_SCHEMA_VERSION),
    generatedAt: isoTime,
    status: level,
    exitCode: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).describe('0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios convention).'),
    summary: z.string().describe('One line for people, e.g. "OK: relay running, 1 account ok, queue empty".'),
    daemon: z.object({
      running: z.boolean(),
      version: z.string().optional(),
      pid: z.number().int().optional(),
      startedAt: isoTime.optional(),
      uptimeSeconds: z.number().int().optional(),
      listening: z.object({ host: z.string(), port: z.number().int() }).optional(),
    }),
    accounts: z.array(accountReportSchema),
    queue: z.object({
      waiting: z.number().int().nonnegative(),
      deferred: z.number().int().nonnegative(),
      held: z.number().int().nonnegative(),
      failed: z.number().int().nonnegative(),
      oldestAgeSeconds: z.number().int().nonnegative().optional(),
    }),
    warnings: z.array(z.string()).describe('Standing warnings of the daemon, e.g. a key kept in a file.'),
    problems: z.array(problemSchema).describe('What is wrong, worst first, each with the next step.'),
  })
  .describe('smtp-oauth-relay status --json');
export type StatusReport = z.infer<typeof statusReportSchema>;
export type StatusLevel = StatusReport['status'];

/** The JSON Schema committed as status.schema.json. */
export function statusJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(statusReportSchema, { io: 'output' });
}
