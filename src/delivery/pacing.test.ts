/**
 * Pacing as Exchange counts it: against an upstream that refuses the 31st message accepted in
 * any 60 s window and a 4th concurrent connection (both with 432 4.3.2), 300 messages go out
 * with no 4.3.2 at all, also across a restart in the middle. Time is a ManualClock: each send
 * takes 0.2-3 s of it, never of the wall clock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { MemoryStore } from '../../test/support/memory-delivery-store.js';
import { configSchema, type Config } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { MessageSender, SendResult } from './message-sender.js';
import { AcceptancePacer, PACING_SAVE_DELAY_MS, PacingFile } from './pacing.js';
import { DeliveryScheduler } from './scheduler.js';

const WINDOW_MS = 60_000;
const LIMIT = 30;

/** Exchange's limits at the seam the scheduler sends through, counted at acceptance. */
class LimitedExchange implements MessageSender {
  readonly acceptedAt: number[] = [];
  refusals = 0;
  connectionFailures = 0;
  private inFlight = 0;
  private turn = 0;
  /** The next N sends find the upstream unreachable (a refused connection). */
  unreachableFor = 0;

  constructor(private readonly clock: ManualClock) {}

  async send(_record: QueueRecord, recipients: string[]): Promise<SendResult> {
    if (this.unreachableFor > 0) {
      this.unreachableFor -= 1;
      this.connectionFailures += 1;
      return { kind: 'failed', reply: { text: 'connect ECONNREFUSED 127.0.0.1:587', errorCode: 'ECONNREFUSED' } };
    }
    this.inFlight += 1;
    try {
      if (this.inFlight > 3) {
        this.refusals += 1;
        return { kind: 'failed', reply: { code: 432, text: '432 4.3.2 Concurrent connections limit exceeded', errorCode: 'EAUTH' } };
      }
      // 0.2 to 3 s per message, varied but reproducible.
      this.turn += 1;
      const latency = 200 + ((this.turn * 7919) % 2800);
      await new Promise<void>((resolve) => this.clock.setTimer(latency, resolve));
      const now = this.clock.now();
      if (this.acceptedAt.filter((at) => at > now - WINDOW_MS).length >= LIMIT) {
        this.refusals += 1;
        return { kind: 'failed', reply: { code: 432, text: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded', errorCode: 'EMESSAGE' } };
      }
      this.acceptedAt.push(now);
      return { kind: 'sent', response: '250 2.6.0 Queued mail for delivery', accepted: recipients, rejected: [] };
    } finally {
      this.inFlight -= 1;
    }
  }

  close(): void {}

  /** The most messages accepted in any 60 s window (a, a + 60 s]. */
  busiestWindow(): number {
    return Math.max(0, ...this.acceptedAt.map((start) => this.acceptedAt.filter((at) => at >= start && at < start + WINDOW_MS).length));
  }
}

function makeConfig(dataDir: string): Config {
  return configSchema.parse({
    dataDir,
    accounts: [{ name: 'sage', mailbox: 'sage@contoso.com', auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecretEnv: 'S' } }],
    delivery: { retryDelaysSeconds: [60], upstreamRetrySeconds: 5 },
  });
}

describe('pacing at acceptance', () => {
  let dir: string;
  let clock: ManualClock;
  let store: MemoryStore;
  let exchange: LimitedExchange;
  let file: PacingFile;
  let scheduler: DeliveryScheduler | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pacing-'));
    clock = new ManualClock();
    store = new MemoryStore(dir, clock);
    exchange = new LimitedExchange(clock);
    file = new PacingFile(join(dir, 'delivery', 'pacing.json'));
  });

  afterEach(async () => {
    await stopScheduler(0);
    await rm(dir, { recursive: true, force: true });
  });

  /** An orderly stop: sends in flight finish while the manual clock moves on (only as long as they take). */
  async function stopScheduler(timeoutMs: number): Promise<void> {
    const running = scheduler;
    if (running === undefined) return;
    let stopped = false;
    const stopping = running.stop(timeoutMs).then(() => {
      stopped = true;
    });
    await runUntil(() => stopped || running.snapshot().totals.inFlight === 0, timeoutMs + 1000);
    await stopping;
    scheduler = undefined;
  }

  async function start(records: readonly QueueRecord[]): Promise<DeliveryScheduler> {
    scheduler = new DeliveryScheduler({
      config: makeConfig(dir),
      store,
      transportFor: () => exchange,
      clock,
      logger: silentLogger(),
      reportingHost: 'relay.test',
      pacing: { file, acceptedBefore: await file.load() },
    });
    scheduler.start(records);
    return scheduler;
  }

  async function enqueue(count: number): Promise<QueueRecord[]> {
    const records: QueueRecord[] = [];
    for (let i = 0; i < count; i += 1) records.push(await store.add(`m${String(i).padStart(3, '0')}`, ['a@fabrikam.com'], { receivedAt: clock.now() + i }));
    return records;
  }

  async function runUntil(done: () => boolean, limitMs: number): Promise<number> {
    const started = clock.now();
    while (!done() && clock.now() - started < limitMs) await clock.advance(250);
    return clock.now() - started;
  }

  it('300 messages: no 60 s window holds more than 30 accepted, and Exchange never says 4.3.2', async () => {
    const begin = clock.now();
    await start(await enqueue(300));
    await runUntil(() => store.removed.length === 300, 20 * 60_000);
    expect(store.removed).toHaveLength(300);
    expect(exchange.refusals).toBe(0);
    expect(exchange.busiestWindow()).toBeLessThanOrEqual(LIMIT);
    const drainMs = Math.max(...exchange.acceptedAt) - begin;
    // Nine full windows after the first batch, and not much more: paced, not stalled.
    expect(drainMs).toBeGreaterThan(9 * WINDOW_MS);
    expect(drainMs).toBeLessThan(10 * WINDOW_MS);
  });

  it('the same with a restart in the middle: the window on disk keeps the new process from a burst', async () => {
    const records = await enqueue(300);
    await start(records);
    await runUntil(() => store.removed.length >= 140, 20 * 60_000);
    await stopScheduler(60_000);
    await file.flushed();
    // A new process: the records still queued, the acceptance times from the file.
    const left = [...store.records.values()];
    await start(left);
    await runUntil(() => store.removed.length === 300, 20 * 60_000);
    expect(store.removed).toHaveLength(300);
    expect(exchange.refusals).toBe(0);
    expect(exchange.busiestWindow()).toBeLessThanOrEqual(LIMIT);
  });

  it('writes the window at most once a second while messages are accepted, and all of it on a clean stop', async () => {
    const saved: number[] = [];
    const save = file.save.bind(file);
    file.save = (times, onError) => {
      saved.push(clock.now());
      save(times, onError);
    };
    const begin = clock.now();
    await start(await enqueue(30));
    await runUntil(() => store.removed.length === 30, 5 * 60_000);
    const elapsedS = (clock.now() - begin) / 1000;
    // 30 acceptances, written in batches: one write per second of acceptances at most.
    expect(saved.length).toBeLessThanOrEqual(Math.ceil(elapsedS) + 1);
    expect(saved.length).toBeLessThan(30);
    for (const [index, at] of saved.entries()) if (index > 0) expect(at - (saved[index - 1] ?? 0)).toBeGreaterThanOrEqual(PACING_SAVE_DELAY_MS);
    await stopScheduler(60_000);
    await file.flushed();
    expect((await file.load()).sage?.sort()).toEqual([...exchange.acceptedAt].sort());
  });

  it('failed connections do not use up the budget: after an outage the next message goes when the upstream is back', async () => {
    exchange.unreachableFor = 40;
    const begin = clock.now();
    await start(await enqueue(5));
    await runUntil(() => store.removed.length === 5, 10 * 60_000);
    expect(exchange.connectionFailures).toBeGreaterThan(0);
    expect(exchange.refusals).toBe(0);
    // 40 refused connections would have used up more than a minute's budget if they counted.
    expect(Math.min(...exchange.acceptedAt) - begin).toBeLessThan(WINDOW_MS * 10);
  });
});

describe('AcceptancePacer', () => {
  it('counts sends in flight and acceptances; a failure gives its place back', () => {
    const pacer = new AcceptancePacer(2, 60_000);
    expect(pacer.msUntilNextSlot(0)).toBe(0);
    pacer.reserve();
    pacer.reserve();
    expect(pacer.msUntilNextSlot(0)).toBe(Infinity);
    pacer.release(1_000);
    pacer.release();
    expect(pacer.msUntilNextSlot(1_000)).toBe(0);
    pacer.reserve();
    pacer.release(2_000);
    expect(pacer.msUntilNextSlot(2_000)).toBe(59_000);
    expect(pacer.msUntilNextSlot(61_000)).toBe(0);
  });
});
