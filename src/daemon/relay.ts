/**
 * The composition root: builds the parts, starts them in order and stops them in reverse.
 * Parts never see each other; this file wires the spool to inbound (sink) and to delivery (store).
 *
 * Start order: control channel first (it is the single-instance lock), then the spool (boot
 * recovery), sign-in, delivery, and the SMTP listener last, so nothing is accepted before the
 * relay can own it. Stop order is the reverse.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { storeClientSecret, type ClosableTokenProvider } from '../auth/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { SignInRequiredError } from '../core/token.js';
import { DeliveryScheduler, PacingFile } from '../delivery/index.js';
import { AlertMonitor, configFileWarnings, createOsLog, environmentWarnings, StuckQueueWatch } from '../health/index.js';
import type { StatusReport } from '../health/status-report.js';
import { startInbound, type InboundServer } from '../inbound/index.js';
import { listQueue, Spool } from '../queue/index.js';
import { controlEndpoint } from './control-endpoint.js';
import type { ControlEvent, ControlRequest } from './control-protocol.js';
import { ControlServer } from './control-server.js';
import { readHealthToken } from './health-access.js';
import { createMetrics, graphAccount, senderFor, startAlerts, tokenFor } from './relay-wiring.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { statusFromLive } from './status-collector.js';
import { QueueCommands } from './queue-commands.js';
import { buildTokenProvider, openConfiguredKeyStore, SignIn } from './sign-in.js';
import { buildStatus, type RelayStatus } from './relay-status.js';
import { dataPaths } from '../core/data-paths.js';

export interface RelayOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly version: string;
  readonly clock?: Clock;
  /** How long in-flight deliveries may take to finish at stop. */
  readonly stopTimeoutMs?: number;
  /** The configuration file, for the standing warnings about its mode and inline secrets. */
  readonly configFile?: string;
}

const DEFAULT_STOP_TIMEOUT_MS = 15_000;

export class Relay {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly options: RelayOptions,
    private readonly parts: {
      readonly control: ControlServer;
      readonly spool: Spool;
      readonly signIn: SignIn;
      readonly tokens: ReadonlyMap<string, ClosableTokenProvider>;
      readonly scheduler: DeliveryScheduler;
      readonly monitor: AlertMonitor;
      readonly stuck: StuckQueueWatch;
      readonly inbound: InboundServer;
      readonly health: HealthServer | undefined;
      /** Accounts that moved from SMTP to Graph (graphFallback), with why: shown in status. */
      readonly fallbacks: ReadonlyMap<string, string>;
      /** Token providers made for graphFallback, closed at stop. */
      readonly graphProviders: readonly ClosableTokenProvider[];
    },
    private readonly startedAt: number,
    /** Set-up warnings said at start and in every status (src/health/standing-warnings.ts). */
    private readonly standingWarnings: readonly string[] = [],
  ) {}

  static async start(options: RelayOptions): Promise<Relay> {
    const { config, logger } = options;
    const clock = options.clock ?? systemClock;
    const startedAt = clock.now();
    let relay: Relay | undefined;

    // Owner-only: the folder holds the spool, the logs and the control socket.
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const endpoint = controlEndpoint(config.dataDir);
    const control = await ControlServer.listen(
      endpoint,
      async (request, emit, signal) => {
        if (relay === undefined) throw new Error('the relay is still starting');
        return relay.handle(request, emit, signal);
      },
      logger,
    );
    const cleanup: Array<() => Promise<void> | void> = [() => control.close()];
    try {
      const { spool, records, report } = await Spool.open(config.dataDir, { logger, clock });
      cleanup.push(() => spool.close());
      // Warnings also go to the Windows Event Log, or the journal under systemd.
      const osLog = createOsLog({ onFailure: (err) => logger.warn({ err: err.message }, 'could not write a warning to the Windows event log') });
      logger.info({ queued: report.queued, removedLeftovers: report.removedLeftovers.length, quarantined: report.quarantined.length }, 'spool recovered');
      const standing = [...environmentWarnings(process.env), ...(options.configFile === undefined ? [] : await configFileWarnings(options.configFile, config))];
      for (const warning of standing) {
        logger.warn({ kind: 'standing-warning' }, warning);
        osLog.warn(warning);
      }

      // Metrics read the scheduler and sign-in on each scrape; both exist by the time one comes.
      const late: { scheduler?: DeliveryScheduler; signIn?: SignIn } = {};
      // Only the health endpoint serves metrics: without it prom-client is never loaded.
      const metrics = config.health.enabled ? createMetrics(config, clock, late) : undefined;
      const signIn = await SignIn.create(config, { logger, clock, onTokenRequest: (account, outcome) => metrics?.tokenRequest(account, outcome) });
      late.signIn = signIn;
      const tokens = signIn.providers;
      cleanup.push(() => signIn.stop());

      const reportingHost = config.listen.name ?? hostname();
      // The pacing window outlives a restart (src/delivery/pacing.ts).
      const pacing = new PacingFile(dataPaths(config.dataDir).pacing);
      const fallbacks = new Map<string, string>();
      const graphProviders: ClosableTokenProvider[] = [];
      const scheduler = new DeliveryScheduler({
        config,
        store: spool,
        clock,
        logger,
        reportingHost,
        observer: {
          // Without the health endpoint there are no metrics to count into.
          ...(metrics?.deliveryObserver() ?? { delivered: () => {}, deferred: () => {}, failed: () => {} }),
          // A hold for an administrator is loud: besides the error line, a warning in the Windows
          // Event Log / journal (a hold for sign-in is already raised by the sign-in alerts).
          accountStateChanged: (change) => {
            if (change.state === 'held-for-admin') osLog.warn(`${change.account}: delivery held (${change.state}): ${change.reason ?? change.condition ?? 'see the log'}`);
          },
        },
        pacing: { file: pacing, acceptedBefore: await pacing.load() },
        transportFor: (account: AccountConfig) =>
          senderFor(config, account, {
            tokens: tokenFor(tokens, account.name),
            messagePath: (id) => spool.messagePath(id),
            clientName: reportingHost,
            graphTokens: () => {
              const provider = buildTokenProvider(config, graphAccount(config, account), signIn.keyStore, { logger, clock });
              graphProviders.push(provider);
              return provider;
            },
            onFallback: (reply) => {
              const text = `${account.name}: SMTP AUTH is disabled for ${account.mailbox} (${reply.replace(/\s+/g, ' ').trim()}); delivering through Microsoft Graph instead (graphFallback).`;
              fallbacks.set(account.name, text);
              logger.warn({ account: account.name, reply }, 'SMTP AUTH disabled; falling back to Microsoft Graph');
            },
          }),
      });
      late.scheduler = scheduler;
      scheduler.start(records);
      cleanup.push(() => scheduler.stop(0));
      cleanup.push(() => graphProviders.forEach((provider) => provider.close()));
      const monitor = await startAlerts(config, { logger, clock, spool, scheduler, signIn, osLog, hostname: reportingHost });
      cleanup.push(() => monitor.stop());
      const stuck = new StuckQueueWatch({
        clock,
        list: () => listQueue(config.dataDir, 'queue'),
        raise: (level, text) => {
          logger[level]({ kind: 'queue-stuck' }, text);
          osLog[level](text);
        },
      });
      stuck.start();
      cleanup.push(() => stuck.stop());
      signIn.start({
        hold: (account, reason) => scheduler.hold(account, reason),
        release: (account) => scheduler.release(account),
        // "At once on sign-in required" (and a new login clears what was due).
        alert: () => void monitor.checkNow(),
      });
      // An app-only account without a usable client secret is held (status CRITICAL) from the
      // start, not only once its first message fails.
      for (const account of config.accounts) {
        if (account.auth.method !== 'client-credentials') continue;
        tokenFor(tokens, account.name)
          .getToken()
          .catch((error: unknown) => {
            if (error instanceof SignInRequiredError) scheduler.hold(account.name, error.message);
          });
      }

      const inbound = await startInbound({
        listen: config.listen,
        // Local TLS certificate and local users (users.json) live in the data folder.
        dataDir: config.dataDir,
        clock,
        accounts: config.accounts,
        sink: spool,
        logger,
        onAccepted: (record) => {
          metrics?.accepted(record.account);
          scheduler.enqueue(record);
        },
      });
      cleanup.push(() => inbound.close());
      const health = metrics !== undefined
        ? await startHealthServer({
            ...config.health,
            bearerToken: readHealthToken(config.health, options.configFile ?? 'the configuration'),
            logger,
            metrics: metrics.registry,
            status: async () => {
              if (relay === undefined) throw new Error('the relay is still starting');
              return relay.statusReport();
            },
          })
        : undefined;

      relay = new Relay(options, { control, spool, signIn, tokens, scheduler, monitor, stuck, inbound, health, fallbacks, graphProviders }, startedAt, standing);
      logger.info(
        {
          smtp: `${inbound.address.host}:${inbound.address.port}`,
          ...(inbound.implicitTlsAddress === undefined ? {} : { smtps: `${inbound.implicitTlsAddress.host}:${inbound.implicitTlsAddress.port}` }),
          control: endpoint.toString(),
          accounts: config.accounts.map((a) => a.name),
          ...(health === undefined ? {} : { health: health.url }),
        },
        'relay started',
      );
      return relay;
    } catch (error) {
      for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
      throw error;
    }
  }

  get smtpAddress(): { host: string; port: number } {
    return this.parts.inbound.address;
  }

  status(): RelayStatus {
    const clock = this.options.clock ?? systemClock;
    return buildStatus({
      version: this.options.version,
      startedAt: this.startedAt,
      now: clock.now(),
      smtp: this.smtpAddress,
      delivery: this.parts.scheduler.snapshot(),
      warnings: [...this.parts.signIn.warnings, ...this.standingWarnings, ...this.parts.fallbacks.values()],
      signIn: this.parts.signIn.keepAliveInfo(),
    });
  }

  /** What `status --json` reports, for the health endpoint's /status: the same JSON. */
  statusReport(): Promise<StatusReport> {
    return statusFromLive(this.options.config, this.status(), (this.options.clock ?? systemClock).now());
  }

  /** Stops accepting (new clients get 421), lets in-flight work finish within the bound, closes all. */
  stop(): Promise<void> {
    this.stopping ??= this.stopParts();
    return this.stopping;
  }

  private async stopParts(): Promise<void> {
    const { inbound, scheduler, spool, tokens, control } = this.parts;
    const timeout = this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.options.logger.info('relay stopping');
    await this.parts.health?.close();
    inbound.stopAccepting();
    this.parts.stuck.stop();
    // The listener stays open (answering 421) until deliveries have finished or been abandoned,
    // so a program that connects during the stop hears why instead of a refused connection.
    await Promise.all([scheduler.stop(timeout).then(() => inbound.close()), this.parts.monitor.stop()]);
    await spool.close();
    for (const provider of this.parts.graphProviders) provider.close();
    await this.parts.signIn.stop();
    await control.close();
    this.options.logger.info('relay stopped');
  }

  private async handle(request: ControlRequest, emit: (event: ControlEvent) => void, signal: AbortSignal): Promise<unknown> {
    switch (request.command) {
      case 'login': {
        const result = await this.parts.signIn.login(request.account, request.mode, (prompt) => emit({ event: 'prompt', prompt }), signal);
        // Pooled connections authenticated as whoever was signed in before must not carry on.
        this.parts.scheduler.reconnect(request.account);
        return result;
      }
      case 'logout':
        await this.parts.signIn.logout(request.account);
        this.parts.scheduler.reconnect(request.account);
        return { account: request.account, signedOut: true };
      case 'ping':
        return { pid: process.pid };
      case 'status':
        return this.status();
      case 'account.release':
        this.account(request.account);
        this.parts.scheduler.release(request.account);
        return { account: request.account, released: true };
      case 'secret.set':
        return this.storeSecret(request.account, request.secret);
      default:
        return new QueueCommands(this.options.config.dataDir, this.parts.scheduler, this.options.clock ?? systemClock, this.options.logger).handle(request);
    }
  }

  /**
   * `secret set` against a running daemon: the secret is sealed under the daemon's own key store
   * (which may belong to another OS account than the administrator's), then the account resumes.
   */
  private async storeSecret(name: string, secret: string): Promise<{ account: string; stored: true }> {
    const account = this.account(name);
    if (account.auth.method !== 'client-credentials') throw new Error(`Account ${name} signs in as a person; use login`);
    const keyStore = this.parts.signIn.keyStore ?? (await openConfiguredKeyStore(this.options.config));
    await storeClientSecret(keyStore, this.options.config.dataDir, name, secret);
    this.parts.scheduler.release(name);
    this.options.logger.info({ account: name }, 'client secret stored; delivery resumes');
    return { account: name, stored: true };
  }

  private account(name: string): AccountConfig {
    const account = this.options.config.accounts.find((candidate) => candidate.name === name);
    if (account === undefined) throw new Error(`No account named "${name}" in the configuration`);
    return account;
  }
}
