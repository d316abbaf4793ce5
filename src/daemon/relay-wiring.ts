/**
 * The wiring the composition root (relay.ts) uses: how the alerts, the metrics and each account's
 * upstream sender, the delivery observer and the stuck-queue watch are built from the
 * configuration and the parts already started.
 */
import { ClientCredentialsTokenProvider, type ClosableTokenProvider } from '../auth/index.js';
import type { Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import { isHeldState } from '../core/delivery-contracts.js';
import type { DeliveryObserver } from '../core/delivery-contracts.js';
import type { Logger } from '../core/logger.js';
import type { MessageFile } from '../core/message-file.js';
import type { QueueRecord } from '../core/queue-record.js';
import { SignInRequiredError } from '../core/token.js';
import { FallbackSender, GraphSender, UpstreamTransport, type DeliveryScheduler, type MessageSender } from '../delivery/index.js';
import { AlertLedger, AlertMonitor, queueDepthRows, RelayMetrics, StuckQueueWatch, type OsLog } from '../health/index.js';
import { listQueue, type Spool } from '../queue/index.js';
import type { SignIn } from './sign-in.js';

/**
 * Warnings before a sign-in or a client secret lapses: a log line and, for the configured
 * administrators, a notice spooled like any message (kind 'notice': never bounced) and sent
 * through an account whose sign-in still works.
 */
export async function startAlerts(
  config: Config,
  parts: { logger: Logger; clock: Clock; spool: Spool; scheduler: DeliveryScheduler; signIn: SignIn; osLog: OsLog; hostname: string },
): Promise<AlertMonitor> {
  const ledger = await AlertLedger.open(config.dataDir, parts.clock);
  if (ledger.setAside !== undefined) parts.logger.warn({ movedTo: ledger.setAside }, 'the record of sent warnings could not be read; it was set aside');
  const monitor = new AlertMonitor({
    config,
    clock: parts.clock,
    logger: parts.logger,
    ledger,
    hostname: parts.hostname,
    onWarning: (level, text) => parts.osLog[level](text),
    states: () => parts.signIn.states(),
    sendNotice: async (notice) => {
      const record = await parts.spool.enqueueBuffer(notice.raw, {
        kind: 'notice',
        account: notice.from,
        client: { address: '127.0.0.1', helo: 'smtp-oauth-relay' },
        mailFrom: notice.mailFrom,
        recipients: notice.to,
      });
      parts.scheduler.enqueue(record);
      return record.id;
    },
  });
  monitor.start();
  return monitor;
}

/** Prometheus metrics; the queue depth and the refresh-token expiry are read at each scrape. */
export function createMetrics(config: Config, clock: Clock, late: { scheduler?: DeliveryScheduler; signIn?: SignIn }): RelayMetrics {
  const names = config.accounts.map((account) => account.name);
  return new RelayMetrics({
    accounts: names,
    clock,
    queueSnapshot: async () => {
      const held = late.scheduler?.snapshot().accounts.filter((account) => isHeldState(account.state)).map((account) => account.account) ?? [];
      return queueDepthRows(await listQueue(config.dataDir, 'queue'), new Set(held), names);
    },
    signInStates: async () => (late.signIn === undefined ? [] : late.signIn.states()),
  });
}

/**
 * The one place where an account's upstream kind chooses how its messages leave: SMTP AUTH
 * (nodemailer), Microsoft Graph, or SMTP that falls back to Graph on 5.7.139 (docs/graph.md).
 */
export function senderFor(
  config: Config,
  account: AccountConfig,
  parts: {
    tokens: ClosableTokenProvider;
    messageFile: (record: QueueRecord) => MessageFile;
    clientName: string;
    graphTokens: () => ClosableTokenProvider;
    onFallback: (reply: string) => void;
  },
): MessageSender {
  const graph = (tokens: ClosableTokenProvider, note?: string) =>
    new GraphSender({ graph: config.graph, account, tokens, messageFile: parts.messageFile, ...(note === undefined ? {} : { note }) });
  if (account.upstream === 'graph') return graph(parts.tokens);
  const smtp = new UpstreamTransport({ upstream: config.upstream, account, tokens: parts.tokens, messageFile: parts.messageFile, clientName: parts.clientName });
  if (!account.graphFallback) return smtp;
  return new FallbackSender({ smtp, graph: () => graph(parts.graphTokens(), 'fallback: SMTP AUTH disabled'), onFallback: parts.onFallback });
}

/** The account as it signs in for Graph: the app-only .default scope of the cloud's Graph (graphFallback is app-only). */
export function graphAccount(config: Config, account: AccountConfig): AccountConfig {
  if (account.auth.method === 'client-credentials') return { ...account, auth: { ...account.auth, scope: config.graph.appScope } };
  return { ...account, auth: { ...account.auth, scopes: config.graph.delegatedScopes } };
}

export function tokenFor(tokens: ReadonlyMap<string, ClosableTokenProvider>, account: string): ClosableTokenProvider {
  const provider = tokens.get(account);
  if (provider === undefined) throw new Error(`no token provider for account ${account}`);
  return provider;
}

/** Metrics (when the health endpoint is on) and a loud warning when an account is held for an administrator. */
export function deliveryObserver(metrics: RelayMetrics | undefined, osLog: OsLog): DeliveryObserver {
  return {
    // Without the health endpoint there are no metrics to count into.
    ...(metrics?.deliveryObserver() ?? { delivered: () => {}, deferred: () => {}, failed: () => {} }),
    // A hold for an administrator is loud: besides the error line, a warning in the Windows
    // Event Log / journal (a hold for sign-in is already raised by the sign-in alerts).
    accountStateChanged: (change) => {
      if (change.state === 'held-for-admin') osLog.warn(`${change.account}: delivery held (${change.state}): ${change.reason ?? change.condition ?? 'see the log'}`);
    },
  };
}

/** Warns, in the log and the OS log, when queued mail stops moving. */
export function stuckQueueWatch(config: Config, parts: { logger: Logger; clock: Clock; osLog: OsLog }): StuckQueueWatch {
  return new StuckQueueWatch({
    clock: parts.clock,
    list: () => listQueue(config.dataDir, 'queue'),
    raise: (level, text) => {
      parts.logger[level]({ kind: 'queue-stuck' }, text);
      parts.osLog[level](text);
    },
  });
}

/**
 * An app-only account without a usable client secret or private key (none stored, a key file
 * that cannot be read, a key that does not belong to the certificate) is held (status
 * CRITICAL) from the start, not only once its first message fails. Only the local half of a
 * token request is made: asking Entra would load MSAL at every start (about 4-5 MiB of the
 * idle relay, docs/performance.md "Memory"). A secret Entra refuses holds the account at its
 * first delivery, and `doctor` asks Entra for a token. Settles once every check has (it never
 * rejects): the start does not wait for it, test/perf/startup-imports.test.ts does.
 */
export async function holdAppOnlyAccountsWithoutSecret(config: Config, tokens: ReadonlyMap<string, ClosableTokenProvider>, scheduler: DeliveryScheduler): Promise<void> {
  const checks = config.accounts.map(async (account) => {
    const provider = tokenFor(tokens, account.name);
    if (!(provider instanceof ClientCredentialsTokenProvider)) return;
    await provider.checkCredential().catch((error: unknown) => {
      if (error instanceof SignInRequiredError) scheduler.hold(account.name, error.message);
    });
  });
  await Promise.all(checks);
}
