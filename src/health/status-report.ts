/**
 * The `status` report: one answer to "will mail keep flowing, and if not, what do I do?", for
 * people (text) and monitoring tools (JSON with a versioned schema, and an exit code).
 * Pure: the collector (src/daemon/status-collector.ts) does the I/O and passes what it found.
 *
 * Exit codes follow the Nagios plugin convention that PRTG, Zabbix and most RMM agents also read
 * (Nagios Plugin Development Guidelines, "Plugin Return Codes"): 0 OK, 1 WARNING, 2 CRITICAL,
 * 3 UNKNOWN.
 *
 * Rules, in the order they are applied (accounts: src/health/status-accounts.ts):
 * Account state
 *  - `sign-in-required`: its recorded sign-in state says so (invalid_grant, AADSTS70008, ...), a
 *    delegated account never signed in, or the daemon holds it for sign-in. A person must sign in.
 *  - `admin-action-required`: the daemon holds it for an administrator (SMTP AUTH disabled,
 *    permissions, a client secret that is wrong or missing, STARTTLS refused again and again).
 *  - `critical`: the predicted refresh-token window (90 days, docs/exchange-replies.md) or the
 *    client secret (`clientSecretExpiresOn`) has expired: the next token request will fail.
 *  - `warning`: days left <= the largest `alerts.thresholdsDays` (14 by default), Exchange
 *    throttles it, Microsoft 365 or the identity provider has been out of reach for longer than
 *    `delivery.upstreamOutageWarningMinutes`, or a delegated sign-in is not the account's mailbox.
 *  - else `ok`. A dead sign-in or secret shows no "days left".
 * Queue
 *  - waiting: queued records never tried (attempts 0); deferred: tried at least once;
 *  - held: queued records of accounts that are held or sign-in-required (also counted above);
 *  - failed: records in spool/failed; oldest age: from the oldest queued record's receivedAt.
 * Overall
 *  - `unknown` (3): the daemon does not answer AND nothing could be read from disk;
 *  - `critical` (2): the daemon is down (mail is not flowing), an account is sign-in-required,
 *    admin-action-required or critical, or a deferred message is older than one hour;
 *  - `warning` (1): an account warning, a standing warning (e.g. a key kept in a file), or
 *    messages in spool/failed;
 *  - else `ok` (0).
 */
import type { AccountConfig } from '../core/config.js';
import { isHeldState, type AccountState } from '../core/delivery-contracts.js';
import { oneLine, parseTime, reportAccount } from './status-accounts.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { SignInState } from '../core/sign-in-state.js';
import { STATUS_SCHEMA_VERSION, type AccountReport, type StatusLevel, type StatusProblem, type StatusReport } from './status-report-schema.js';

export {
  STATUS_SCHEMA_VERSION,
  statusJsonSchema,
  statusReportSchema,
  type AccountReport,
  type StatusLevel,
  type StatusProblem,
  type StatusReport,
} from './status-report-schema.js';

/** A message deferred for longer than this means mail is not flowing (the issue's "older than an hour"). */
export const STALE_DEFERRED_MS = 3600_000;

/** What the report needs of the running daemon: RelayStatus (src/daemon) satisfies it. */
export interface LiveStatus {
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly smtp: { readonly host: string; readonly port: number };
  readonly delivery: {
    readonly accounts: ReadonlyArray<{
      readonly account: string;
      readonly state: AccountState;
      readonly reason?: string | undefined;
      readonly condition?: string | undefined;
      readonly doing?: string | undefined;
      readonly next?: string | undefined;
      readonly nextAttemptAt?: string | undefined;
      readonly since?: string | undefined;
      readonly lastDelivery?: { readonly at: string; readonly id: string } | undefined;
      readonly lastError?: { readonly at: string; readonly text: string; readonly condition?: string | undefined } | undefined;
    }>;
  };
  readonly warnings: readonly string[];
  /** Keep-alive schedule per delegated account (absent from daemons that predate it). */
  readonly signIn?: ReadonlyArray<{ readonly account: string; readonly keepAlive: { readonly phase: string; readonly nextRunAt?: string | undefined } }> | undefined;
}

export type StatusAccount = Pick<AccountConfig, 'name' | 'mailbox' | 'auth'>;

export interface StatusReportInput {
  readonly now: number;
  readonly config: {
    readonly accounts: readonly StatusAccount[];
    readonly alerts: { readonly thresholdsDays: readonly number[] };
    /** When an outage of Microsoft 365 or of the identity provider becomes a WARNING. */
    readonly delivery?: { readonly upstreamOutageWarningMinutes: number } | undefined;
    /** For the fix texts ({host}, {port}). */
    readonly upstream?: { readonly host?: string | undefined; readonly port: number } | undefined;
  };
  /** The daemon's own status; undefined when it does not run (or did not answer). */
  readonly daemon?: LiveStatus | undefined;
  /** Why the daemon could not be asked, when it is not simply stopped (e.g. it did not answer in time). */
  readonly daemonError?: string | undefined;
  /** Recorded sign-in states; undefined when they could not be read. */
  readonly signInStates?: readonly SignInState[] | undefined;
  /** Records in spool/queue and spool/failed; undefined when they could not be read. */
  readonly queued?: readonly QueueRecord[] | undefined;
  readonly failed?: readonly QueueRecord[] | undefined;
  /** Why the state on disk could not be read (e.g. the data folder is missing). */
  readonly diskError?: string | undefined;
  /** Standing warnings found by the caller itself (e.g. the configuration file's mode), merged with the daemon's. */
  readonly localWarnings?: readonly string[] | undefined;
  /** One sentence for an upstream reply or error text; the collector passes the delivery table's. */
  readonly meaningOf?: ((text: string) => string) | undefined;
}

const EXIT_CODES = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;

export function buildStatusReport(input: StatusReportInput): StatusReport {
  const generatedAt = new Date(input.now).toISOString();
  const nothingReadable = input.daemon === undefined && input.signInStates === undefined && input.queued === undefined && input.failed === undefined;
  if (nothingReadable) return unknownReport(generatedAt, input);

  const problems: StatusProblem[] = [];
  if (input.daemon === undefined) problems.push(daemonDownProblem(input.daemonError));
  if (input.diskError !== undefined) problems.push({ level: 'warning', text: `Part of the state on disk cannot be read: ${input.diskError}` });

  const accounts = input.config.accounts.map((account) => reportAccount(account, input, problems));
  const queue = reportQueue(input, accounts, problems);
  const warnings = [...new Set([...(input.daemon?.warnings ?? []), ...(input.localWarnings ?? [])])];
  for (const warning of warnings) problems.push({ level: 'warning', text: warning });

  // Worst first, so the first line and the first problem say what matters most.
  problems.sort((a, b) => rank(b.level) - rank(a.level));
  const status: StatusLevel = problems.some((p) => p.level === 'critical') ? 'critical' : problems.length > 0 ? 'warning' : 'ok';
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    generatedAt,
    status,
    exitCode: EXIT_CODES[status],
    summary: summarize(status, input.daemon, accounts, queue, problems),
    daemon: reportDaemon(input.daemon),
    accounts,
    queue,
    warnings,
    problems,
  };
}

function unknownReport(generatedAt: string, input: StatusReportInput): StatusReport {
  const reason = input.diskError ?? 'nothing could be read';
  const problem: StatusProblem = {
    level: 'critical',
    text: `The relay is not running and its state cannot be read: ${reason}.${input.daemonError === undefined ? '' : ` (${input.daemonError})`}`,
    nextStep: 'check that --config names the relay\'s configuration and that dataDir exists and is readable by this user, then start the relay',
  };
  return {
    schemaVersion: STATUS_SCHEMA_VERSION,
    generatedAt,
    status: 'unknown',
    exitCode: EXIT_CODES.unknown,
    summary: `UNKNOWN: no relay answers and no state can be read: ${reason}`,
    daemon: { running: false },
    accounts: [],
    queue: { waiting: 0, deferred: 0, held: 0, failed: 0 },
    warnings: [],
    problems: [problem],
  };
}

function daemonDownProblem(daemonError: string | undefined): StatusProblem {
  return {
    level: 'critical',
    text:
      daemonError === undefined
        ? 'The relay is not running: nothing accepts or delivers mail.'
        : `The relay does not answer on its control channel: ${daemonError}`,
    nextStep: 'start the relay service (it runs `smtp-oauth-relay serve --config FILE`) and read its log',
  };
}

function reportDaemon(daemon: LiveStatus | undefined): StatusReport['daemon'] {
  if (daemon === undefined) return { running: false };
  return {
    running: true,
    version: daemon.version,
    pid: daemon.pid,
    startedAt: daemon.startedAt,
    uptimeSeconds: Math.max(0, Math.round(daemon.uptimeSeconds)),
    listening: { host: daemon.smtp.host, port: daemon.smtp.port },
  };
}

function reportQueue(input: StatusReportInput, accounts: readonly AccountReport[], problems: StatusProblem[]): StatusReport['queue'] {
  const queued = input.queued ?? [];
  const failed = input.failed ?? [];
  const heldAccounts = new Set(accounts.filter((a) => a.state === 'sign-in-required' || a.state === 'admin-action-required' || (a.delivery !== undefined && isHeldState(a.delivery.state))).map((a) => a.name));
  const deferred = queued.filter((record) => record.attempts > 0);
  const oldest = Math.min(...queued.map((record) => parseTime(record.receivedAt) ?? input.now));

  const stale = deferred.filter((record) => input.now - (parseTime(record.receivedAt) ?? input.now) > STALE_DEFERRED_MS);
  if (stale.length > 0) {
    const first = stale[0];
    const last = first?.lastReply?.text;
    problems.push({
      level: 'critical',
      text: `${stale.length} message${stale.length === 1 ? ' has' : 's have'} waited more than an hour after failed attempts${last === undefined ? '' : `; last reply: ${oneLine(last)}`}.`,
      nextStep: '`smtp-oauth-relay queue list` shows them; `smtp-oauth-relay doctor` checks the path to Microsoft 365',
    });
  }
  if (failed.length > 0) {
    problems.push({
      level: 'warning',
      text: `${failed.length} message${failed.length === 1 ? ' is' : 's are'} in spool/failed (refused for good; their senders got a bounce).`,
      nextStep: '`smtp-oauth-relay queue list --failed`, then `queue retry ID` after fixing the cause, or `queue delete ID`',
    });
  }
  return {
    waiting: queued.length - deferred.length,
    deferred: deferred.length,
    held: queued.filter((record) => heldAccounts.has(record.account)).length,
    failed: failed.length,
    ...(queued.length === 0 ? {} : { oldestAgeSeconds: Math.max(0, Math.floor((input.now - oldest) / 1000)) }),
  };
}

function summarize(status: StatusLevel, daemon: LiveStatus | undefined, accounts: readonly AccountReport[], queue: StatusReport['queue'], problems: readonly StatusProblem[]): string {
  const head = status.toUpperCase();
  const first = problems[0];
  if (first !== undefined) {
    const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
    return `${head}: ${first.text}${more}`;
  }
  const ok = accounts.filter((a) => a.state === 'ok').length;
  const waiting = queue.waiting + queue.deferred;
  const running = daemon === undefined ? 'relay not running' : `relay ${daemon.version} running`;
  return `${head}: ${running}, ${ok} of ${accounts.length} account${accounts.length === 1 ? '' : 's'} ok, ${waiting === 0 ? 'queue empty' : `${waiting} queued`}`;
}

function rank(problemLevel: StatusProblem['level']): number {
  return problemLevel === 'critical' ? 2 : 1;
}
