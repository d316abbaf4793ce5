/**
 * The composition root: builds the parts, starts them in order and stops them in reverse.
 * Parts never see each other; this file wires the spool to inbound (sink) and to delivery (store).
 *
 * Start order: control channel first (it is the single-instance lock), then the spool (boot
 * recovery), sign-in, delivery, alerts, and the SMTP listener last, so nothing is accepted
 * before the relay can own it. The parts are one ordered list (part-list.ts): stop, and the
 * cleanup after a failed start, are its reverse.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { storeClientSecret, type ClosableTokenProvider } from '../auth/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import { dataPaths } from '../core/data-paths.js';
import type { Logger } from '../core/logger.js';
import { DeliveryScheduler, PacingFile } from '../delivery/index.js';
import { configFileWarnings, createOsLog, environmentWarnings } from '../health/index.js';
import type { StatusReport } from '../health/status-report.js';
import { startInbound, type InboundServer } from '../inbound/index.js';
import { Spool } from '../queue/index.js';
import { controlEndpoint } from './control-endpoint.js';
import type { ControlEvent, ControlRequest } from './control-protocol.js';
import { ControlServer } from './control-server.js';
import { readHealthToken } from './health-access.js';
import { createMetrics, deliveryObserver, graphAccount, holdAppOnlyAccountsWithoutSecret, senderFor, startAlerts, stuckQueueWatch, tokenFor } from './relay-wiring.js';
import { startHealthServer } from './health-server.js';
import { statusFromLive } from './status-collector.js';
import { QueueCommands } from './queue-commands.js';
import { buildTokenProvider, openConfiguredKeyStore, SignIn } from './sign-in.js';
import { buildStatus, type RelayStatus } from './relay-status.js';
import { PartList } from './part-list.js';

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

/** What stopping the parts needs to know: how long in-flight deliveries may still take. */
interface StopBound {
  readonly timeoutMs: number;
}

export class Relay {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly options: RelayOptions,
    private readonly parts: {
      readonly signIn: SignIn;
      readonly scheduler: DeliveryScheduler;
      readonly inbound: InboundServer;
      /** Accounts that moved from SMTP to Graph (graphFallback), with why: shown in status. */
      readonly fallbacks: ReadonlyMap<string, string>;
    },
    /** Every started part in start order; stop() runs it in reverse. */
    private readonly running: PartList<StopBound>,
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
    const running = new PartList<StopBound>();
    const handler = async (request: ControlRequest, emit: (event: ControlEvent) => void, signal: AbortSignal): Promise<unknown> => {
      if (relay === undefined) throw new Error('the relay is still starting');
      return relay.handle(request, emit, signal);
    };
    await running.start('control channel', () => ControlServer.listen(endpoint, handler, logger), { stop: (control) => control.close() });
    try {
      const { spool, records, report } = await running.start('spool', () => Spool.open(config.dataDir, { logger, clock }), { stop: ({ spool }) => spool.close() });
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
      const signIn = await running.start('sign-in', () => SignIn.create(config, { logger, clock, onTokenRequest: (account, outcome) => metrics?.tokenRequest(account, outcome) }), {
        stop: (part) => part.stop(),
      });
      late.signIn = signIn;
      const tokens = signIn.providers;

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
        observer: deliveryObserver(metrics, osLog),
        pacing: { file: pacing, acceptedBefore: await pacing.load() },
        transportFor: (account: AccountConfig) =>
          senderFor(config, account, {
            tokens: tokenFor(tokens, account.name),
            messageFile: (record) => spool.messageFile(record),
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
      // Delivery's bounded wait begins as the stop begins; the listener keeps answering 421 until it ends.
      let deliveryStopped: Promise<void> = Promise.resolve();
      await running.start('delivery', () => scheduler.start(records), {
        quiesce: (_, { timeoutMs }) => (deliveryStopped = scheduler.stop(timeoutMs)),
        stop: () => graphProviders.forEach((provider) => provider.close()),
      });
      const monitor = await running.start('alerts', () => startAlerts(config, { logger, clock, spool, scheduler, signIn, osLog, hostname: reportingHost }), {
        quiesce: (part) => part.stop(),
      });
      const stuckWatch = stuckQueueWatch(config, { logger, clock, osLog });
      await running.start('stuck-queue watch', () => stuckWatch.start(), { quiesce: () => stuckWatch.stop() });
      signIn.start({
        hold: (account, reason) => scheduler.hold(account, reason),
        release: (account) => scheduler.release(account),
        // "At once on sign-in required" (and a new login clears what was due).
        alert: () => void monitor.checkNow(),
      });
      void holdAppOnlyAccountsWithoutSecret(config, tokens, scheduler);

      const inbound = await running.start('SMTP listener', () => startInbound({
        listen: config.listen,
        // Local TLS certificate and local users (users.json) live in the data folder.
        dataDir: config.dataDir,
        clock,
        accounts: config.accounts,
        sink: spool,
        logger,
        onAccepted: (record) => {
          metrics?.accepted(record.account);
          scheduler.accepted(record);
        },
      }), {
        // New clients hear 421 at once; the listener closes once delivery's wait is over, so a
        // program that connects during the stop hears why instead of a refused connection.
        quiesce: (part) => part.stopAccepting(),
        stop: async (part) => {
          await deliveryStopped.catch(() => undefined);
          await part.close();
        },
      });
      const health = metrics !== undefined
        ? await running.start('health endpoint', () => startHealthServer({
            ...config.health,
            bearerToken: readHealthToken(config.health, options.configFile ?? 'the configuration'),
            logger,
            metrics: metrics.registry,
            status: async () => {
              if (relay === undefined) throw new Error('the relay is still starting');
              return relay.statusReport();
            },
          }), { stop: (part) => part.close() })
        : undefined;

      relay = new Relay(options, { signIn, scheduler, inbound, fallbacks }, running, startedAt, standing);
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
      // Nothing was acknowledged yet: in-flight deliveries are abandoned (timeout 0) and go again next start.
      await running.stopAll({ timeoutMs: 0 }, (part, err) => logger.warn({ part, err: String(err) }, 'could not stop a part after the failed start')).catch(() => undefined);
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
    const { logger } = this.options;
    logger.info('relay stopping');
    await this.running.stopAll({ timeoutMs: this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS }, (part, err) => logger.error({ part, err: String(err) }, 'could not stop a part'));
    logger.info('relay stopped');
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
