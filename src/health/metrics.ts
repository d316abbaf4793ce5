/**
 * The relay's Prometheus metrics, in a registry of its own (never prom-client's global one, so
 * that two relays in one test process, or a library that uses the default registry, never mix).
 *
 * Counters move when the daemon calls the methods below; the gauges (queue depth, seconds until
 * a refresh token lapses) are read at scrape time through the callbacks given to the constructor.
 * Labels stay low in cardinality: account names come from the config, reasons are the rule ids
 * of the reply classification table (src/delivery/reply-classification.ts), errors are Entra or
 * OAuth codes (RFC 6749 section 5.2), never free text.
 * Naming: https://prometheus.io/docs/practices/naming/ (base units, `_total` for counters).
 *
 * prom-client is loaded when the first RelayMetrics is made, which the daemon does only with
 * the health endpoint on (relay.ts): ~90 modules and an event-loop-delay sampler a relay without
 * /metrics never needs (docs/performance.md).
 */
import { createRequire } from 'node:module';
import type { Counter, Histogram } from 'prom-client';
import { systemClock, type Clock } from '../core/clock.js';
import type { DeliveryObserver } from '../core/delivery-contracts.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { TokenRequestOutcome } from '../core/token.js';
import type { SignInState } from '../core/sign-in-state.js';

export type QueueDepthState = 'waiting' | 'deferred' | 'held';

/** How many queued messages an account has in one state. */
export interface QueueDepthRow {
  readonly account: string;
  readonly state: QueueDepthState;
  readonly count: number;
}

export interface RelayMetricsOptions {
  /** Configured account names: their counters start at 0, so rate() works from the first message. */
  readonly accounts?: readonly string[];
  /** The queue at scrape time (see `queueDepthRows`). */
  readonly queueSnapshot?: () => Promise<readonly QueueDepthRow[]> | readonly QueueDepthRow[];
  /** The recorded sign-in of every account (the refresh-token expiry gauge). */
  readonly signInStates?: () => Promise<readonly SignInState[]>;
  readonly clock?: Clock;
  /** prom-client's process metrics (CPU, memory, event loop lag); on unless false. */
  readonly defaultMetrics?: boolean;
}

// The cross-part contracts are declared once, in src/core.
export type { DeliveryObserver } from '../core/delivery-contracts.js';
export type { TokenRequestOutcome } from '../core/token.js';

/**
 * From acceptance to delivery: seconds for a healthy relay, minutes while throttled, hours while
 * a mailbox is held or Exchange defers (the queue lifetime is days: docs/architecture.md, "Retries are data").
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400, 172800];

type PromClient = typeof import('prom-client');
let loadedPromClient: PromClient | undefined;
const prom = (): PromClient => (loadedPromClient ??= createRequire(import.meta.url)('prom-client') as PromClient);

export class RelayMetrics {
  readonly registry = new (prom().Registry)();
  private readonly clock: Clock;
  private readonly acceptedTotal: Counter<'account'>;
  private readonly deliveredTotal: Counter<'account'>;
  private readonly deferredTotal: Counter<'account' | 'reason'>;
  private readonly failedTotal: Counter<'account' | 'reason'>;
  private readonly latency: Histogram<'account'>;
  private readonly refreshesTotal: Counter<'account'>;
  private readonly refreshFailuresTotal: Counter<'account' | 'error'>;

  constructor(options: RelayMetricsOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const registers = [this.registry];
    this.acceptedTotal = new (prom().Counter)({
      name: 'smtp_relay_messages_accepted_total',
      help: 'Messages accepted from local clients (stored, answered 250).',
      labelNames: ['account'],
      registers,
    });
    this.deliveredTotal = new (prom().Counter)({
      name: 'smtp_relay_messages_delivered_total',
      help: 'Messages Microsoft 365 took for every recipient.',
      labelNames: ['account'],
      registers,
    });
    this.deferredTotal = new (prom().Counter)({
      name: 'smtp_relay_delivery_attempts_deferred_total',
      help: 'Delivery attempts answered with a temporary failure, by classification rule.',
      labelNames: ['account', 'reason'],
      registers,
    });
    this.failedTotal = new (prom().Counter)({
      name: 'smtp_relay_messages_failed_total',
      help: 'Messages moved to failed/ (a recipient refused for good, or the queue lifetime ran out), by classification rule.',
      labelNames: ['account', 'reason'],
      registers,
    });
    this.latency = new (prom().Histogram)({
      name: 'smtp_relay_delivery_latency_seconds',
      help: 'Time from acceptance to delivery to Microsoft 365.',
      labelNames: ['account'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.refreshesTotal = new (prom().Counter)({
      name: 'smtp_relay_token_refreshes_total',
      help: 'Access tokens obtained from the identity provider.',
      labelNames: ['account'],
      registers,
    });
    this.refreshFailuresTotal = new (prom().Counter)({
      name: 'smtp_relay_token_refresh_failures_total',
      help: 'Token requests that failed, by Entra (AADSTS) or OAuth error code.',
      labelNames: ['account', 'error'],
      registers,
    });
    this.queueDepthGauge(options.queueSnapshot);
    this.refreshExpiryGauge(options.signInStates);
    if (options.defaultMetrics !== false) prom().collectDefaultMetrics({ register: this.registry });
    for (const account of options.accounts ?? []) {
      this.acceptedTotal.inc({ account }, 0);
      this.deliveredTotal.inc({ account }, 0);
      this.refreshesTotal.inc({ account }, 0);
    }
  }

  /** The Content-Type of `text()` (Prometheus text exposition format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Everything, in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  accepted(account: string): void {
    this.acceptedTotal.inc({ account });
  }

  /** `acceptedAt`: ISO 8601 or epoch ms; `now`: epoch ms. */
  delivered(account: string, acceptedAt: string | number, now: number): void {
    this.deliveredTotal.inc({ account });
    const since = typeof acceptedAt === 'number' ? acceptedAt : Date.parse(acceptedAt);
    if (Number.isNaN(since)) return;
    this.latency.observe({ account }, Math.max(0, (now - since) / 1000));
  }

  deferred(account: string, reason: string): void {
    this.deferredTotal.inc({ account, reason });
  }

  failed(account: string, reason: string): void {
    this.failedTotal.inc({ account, reason });
  }

  tokenRefreshed(account: string): void {
    this.refreshesTotal.inc({ account });
  }

  tokenRefreshFailed(account: string, error: string): void {
    this.refreshFailuresTotal.inc({ account, error });
  }

  /** For a token provider's `onTokenRequest` option. */
  tokenRequest(account: string, outcome: TokenRequestOutcome): void {
    if (outcome.ok) this.tokenRefreshed(account);
    else this.tokenRefreshFailed(account, outcome.error);
  }

  /**
   * For the delivery scheduler's `observer` option. Only messages from clients count: the DSNs
   * and notices the relay writes itself were never "accepted", so counting them would make
   * delivered + failed exceed accepted.
   */
  deliveryObserver(): DeliveryObserver {
    return {
      delivered: (record, now) => {
        if (record.kind === 'message') this.delivered(record.account, record.receivedAt, now);
      },
      deferred: (record, reason) => {
        if (record.kind === 'message') this.deferred(record.account, reason);
      },
      failed: (record, reason) => {
        if (record.kind === 'message') this.failed(record.account, reason);
      },
    };
  }

  private queueDepthGauge(snapshot: RelayMetricsOptions['queueSnapshot']): void {
    new (prom().Gauge)({
      name: 'smtp_relay_queue_depth',
      help: 'Messages in the queue: waiting (never tried), deferred (tried, due again later), held (account held until sign-in works).',
      labelNames: ['account', 'state'],
      registers: [this.registry],
      async collect() {
        if (snapshot === undefined) return;
        const rows = await snapshot();
        this.reset();
        for (const row of rows) this.set({ account: row.account, state: row.state }, row.count);
      },
    });
  }

  private refreshExpiryGauge(states: RelayMetricsOptions['signInStates']): void {
    const clock = this.clock;
    new (prom().Gauge)({
      name: 'smtp_relay_refresh_token_expiry_seconds',
      help: 'Seconds until the predicted expiry of the refresh token (delegated sign-in, 90 days after it was last issued); negative once lapsed.',
      labelNames: ['account'],
      registers: [this.registry],
      async collect() {
        if (states === undefined) return;
        const known = await states();
        this.reset();
        const now = clock.now();
        for (const state of known) {
          const expiresAt = state.refreshTokenExpiresAt === undefined ? Number.NaN : Date.parse(state.refreshTokenExpiresAt);
          if (Number.isNaN(expiresAt)) continue;
          this.set({ account: state.account }, Math.round((expiresAt - now) / 1000));
        }
      },
    });
  }
}

/**
 * Queue depth from the records in queue/: a held account's messages are all "held"; otherwise a
 * record tried before is "deferred", one never tried "waiting". Every configured account gets
 * all three series (0 when empty), so an alert on them never sees a series vanish.
 */
export function queueDepthRows(records: readonly QueueRecord[], heldAccounts: ReadonlySet<string>, accounts: readonly string[] = []): QueueDepthRow[] {
  const counts = new Map<string, Record<QueueDepthState, number>>();
  const row = (account: string): Record<QueueDepthState, number> => {
    let found = counts.get(account);
    if (found === undefined) {
      found = { waiting: 0, deferred: 0, held: 0 };
      counts.set(account, found);
    }
    return found;
  };
  for (const account of accounts) row(account);
  for (const record of records) {
    const state: QueueDepthState = heldAccounts.has(record.account) ? 'held' : record.attempts > 0 ? 'deferred' : 'waiting';
    row(record.account)[state] += 1;
  }
  return [...counts].flatMap(([account, byState]) =>
    (['waiting', 'deferred', 'held'] as const).map((state) => ({ account, state, count: byState[state] })),
  );
}
