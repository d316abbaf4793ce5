/**
 * Raises the warnings of expiry-warnings.ts: a log line each, and an e-mail notice to the
 * administrators sent through the relay itself, through an account whose sign-in still works.
 * Checks at start, every hour, and at once when the daemon says a refresh just failed.
 *
 * A warning is recorded in the ledger only after its log line and its notice were handed over,
 * so a crash in between repeats it rather than losing it.
 */
import { hostname as osHostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { SignInState } from '../core/sign-in-state.js';
import { dueWarnings, type ExpiryWarning, type WarnedAccount, type WarningLevel } from './expiry-warnings.js';
import { composeNotice } from './notice-message.js';

export const CHECK_INTERVAL_MS = 3600_000;

/** A notice ready for the spool: the daemon enqueues it like an accepted message. */
export interface OutgoingNotice {
  /** Name of the account that sends it (its sign-in works). */
  readonly from: string;
  /** Envelope sender: that account's mailbox, also the From header. */
  readonly mailFrom: string;
  readonly to: string[];
  /** The whole RFC 5322 message, CRLF line ends. */
  readonly raw: Buffer;
}

/** What the monitor needs of the alert ledger (alert-ledger.ts satisfies it). */
export interface SentWarnings {
  has(key: string): boolean;
  record(key: string): Promise<void>;
}

export interface AlertMonitorOptions {
  readonly config: { readonly accounts: readonly WarnedAccount[]; readonly alerts: Config['alerts'] };
  readonly clock: Clock;
  readonly logger: Logger;
  readonly ledger: SentWarnings;
  /** The recorded sign-in state of every account (never a token: the monitor needs none). */
  readonly states: () => Promise<readonly SignInState[]> | readonly SignInState[];
  /** Spools the notice and hands it to the scheduler; resolves with its queue id. */
  readonly sendNotice: (notice: OutgoingNotice) => Promise<string>;
  /** For the notice's Message-ID; defaults to the machine name. */
  readonly hostname?: string | undefined;
  readonly intervalMs?: number | undefined;
  /** Told of each warning raised, once, e.g. to copy it to the OS log (os-log.ts); must not throw. */
  readonly onWarning?: ((level: WarningLevel, text: string) => void) | undefined;
}

/** What one check did, for tests and the daemon's own log. */
export interface CheckResult {
  readonly raised: readonly ExpiryWarning[];
  /** Queue ids of the notices sent, by warning key. */
  readonly notices: ReadonlyMap<string, string>;
}

export class AlertMonitor {
  private readonly hostname: string;
  private readonly intervalMs: number;
  /** Checks run one after another: a check asked for during another runs after it, on fresh states. */
  private chain: Promise<unknown> = Promise.resolve();
  private cancelTimer: (() => void) | undefined;
  private running = false;

  constructor(private readonly options: AlertMonitorOptions) {
    this.hostname = options.hostname ?? osHostname();
    this.intervalMs = options.intervalMs ?? CHECK_INTERVAL_MS;
  }

  /** Checks now, then every hour until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.scheduledCheck();
  }

  /** Cancels the schedule and waits for a check in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.idle();
  }

  /** Resolves when no check is running or queued (for a careful shutdown and for tests). */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.chain;
      await seen.catch(() => undefined);
    } while (seen !== this.chain);
  }

  /** For the daemon right after a refresh failed: "at once on sign-in required". */
  checkNow(): Promise<CheckResult> {
    return this.check();
  }

  /** Evaluates the warnings and raises the due ones; queued behind a check in progress. */
  check(): Promise<CheckResult> {
    const result = this.chain.then(() => this.runCheck());
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async scheduledCheck(): Promise<void> {
    try {
      await this.check();
    } catch (error) {
      this.options.logger.error({ err: (error as Error).message }, 'expiry check failed; trying again at the next one');
    }
    if (!this.running) return;
    this.cancelTimer = this.options.clock.setTimer(this.intervalMs, () => void this.scheduledCheck());
  }

  private async runCheck(): Promise<CheckResult> {
    const { config, clock, ledger } = this.options;
    const states = await this.options.states();
    const warnings = dueWarnings({
      now: clock.now(),
      accounts: config.accounts,
      states,
      thresholdsDays: config.alerts.thresholdsDays,
      sent: ledger,
    });
    const raised: ExpiryWarning[] = [];
    const notices = new Map<string, string>();
    for (const warning of warnings) {
      const queueId = await this.raise(warning, states);
      if (queueId === false) continue;
      await ledger.record(warning.key);
      raised.push(warning);
      if (queueId !== undefined) notices.set(warning.key, queueId);
    }
    return { raised, notices };
  }

  /**
   * Logs the warning and sends its notice. Resolves with the notice's queue id, undefined when
   * no notice was due or possible, or false when the notice could not be queued (the warning is
   * then not recorded, so the next check tries again).
   */
  private async raise(warning: ExpiryWarning, states: readonly SignInState[]): Promise<string | undefined | false> {
    const { logger, config } = this.options;
    const fields = {
      account: warning.account,
      kind: warning.kind,
      thresholdDays: warning.threshold,
      daysLeft: warning.daysLeft === undefined ? undefined : Math.round(warning.daysLeft * 10) / 10,
      expiresAt: warning.expiresAt,
      nextStep: warning.nextStep,
    };
    logger[warning.level](fields, warning.text);
    // Headline first: the event log keeps 255 characters; the text already says what to do.
    this.options.onWarning?.(warning.level, `${warning.summary}. ${warning.text}`);

    const notify = config.alerts.notify;
    if (notify.length === 0) return undefined;
    const sender = this.senderFor(warning.account, states);
    if (sender === undefined) {
      logger.warn(
        { account: warning.account, kind: warning.kind },
        'no account can sign in to send the notice by e-mail; this log line is the only warning',
      );
      return undefined;
    }
    try {
      const raw = await composeNotice({
        fromMailbox: sender.mailbox,
        to: notify,
        summary: warning.summary,
        text: noticeText(warning, sender, this.hostname),
        date: new Date(this.options.clock.now()),
        hostname: this.hostname,
      });
      const queueId = await this.options.sendNotice({ from: sender.name, mailFrom: sender.mailbox, to: [...notify], raw });
      logger.info({ account: warning.account, kind: warning.kind, via: sender.name, id: queueId, to: notify }, 'warning notice queued');
      return queueId;
    } catch (error) {
      logger.error(
        { account: warning.account, kind: warning.kind, via: sender.name, err: (error as Error).message },
        'warning notice could not be queued; trying again at the next check',
      );
      return false;
    }
  }

  /** The warned account itself while its sign-in works, else the first other account whose sign-in works. */
  private senderFor(accountName: string, states: readonly SignInState[]): WarnedAccount | undefined {
    const healthy = new Set(states.filter((state) => state.status === 'ok').map((state) => state.account));
    const accounts = this.options.config.accounts;
    const own = accounts.find((account) => account.name === accountName);
    if (own !== undefined && healthy.has(own.name)) return own;
    return accounts.find((account) => healthy.has(account.name));
  }
}

function noticeText(warning: ExpiryWarning, sender: WarnedAccount, hostname: string): string {
  const via =
    sender.name === warning.account
      ? `through account "${sender.name}" itself`
      : `through account "${sender.name}" (${sender.mailbox}), because "${warning.account}" cannot send`;
  return [
    warning.text,
    `Next step: ${warning.nextStep}.`,
    `-- \nsmtp-oauth-relay on ${hostname} sent this notice ${via}. It warns once per threshold` +
      ` (see alerts.thresholdsDays and alerts.notify in the configuration).`,
  ].join('\n\n');
}
