import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { MemoryStore } from '../../test/support/memory-delivery-store.js';
import { configSchema } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import { IntakePriority } from './intake-priority.js';
import type { MessageSender, SendResult } from './message-sender.js';
import { DeliveryScheduler } from './scheduler.js';

const LIMITS = { quietMs: 50, longestHoldMs: 2000 };

describe('IntakePriority', () => {
  it('lets delivery go when nothing was accepted, and holds it for quietMs after an acceptance', () => {
    const intake = new IntakePriority(LIMITS);
    expect(intake.holdUntil(1_000)).toBeUndefined();
    intake.accepted(1_000);
    expect(intake.holdUntil(1_010)).toBe(1_050);
    expect(intake.holdUntil(1_050)).toBeUndefined();
  });

  it('holds no longer than longestHoldMs while acceptances keep coming, then lets delivery run beside intake', () => {
    const intake = new IntakePriority(LIMITS);
    let now = 0;
    for (; now < 2_000; now += 10) {
      intake.accepted(now);
      const until = intake.holdUntil(now);
      expect(until).toBeDefined();
      expect(until!).toBeLessThanOrEqual(2_000);
    }
    intake.accepted(now);
    expect(intake.holdUntil(now)).toBeUndefined();
    intake.accepted(now + 10);
    expect(intake.holdUntil(now + 10)).toBeUndefined();
  });

  it('starts a new hold after a quiet spell', () => {
    const intake = new IntakePriority(LIMITS);
    intake.accepted(0);
    expect(intake.holdUntil(0)).toBe(50);
    expect(intake.holdUntil(2_500)).toBeUndefined();
    intake.accepted(3_000);
    expect(intake.holdUntil(3_000)).toBe(3_050);
  });
});

/** Accepts every message at once and records when each send started. */
class RecordingSender implements MessageSender {
  readonly startedAt: Array<{ id: string; at: number }> = [];
  constructor(private readonly clock: ManualClock) {}
  send(record: QueueRecord, recipients: string[]): Promise<SendResult> {
    this.startedAt.push({ id: record.id, at: this.clock.now() });
    return Promise.resolve({ kind: 'sent', response: '250 2.0.0 OK', accepted: recipients, rejected: [] });
  }
  close(): void {}
}

describe('DeliveryScheduler with intake first', () => {
  let dir: string;
  let clock: ManualClock;
  let store: MemoryStore;
  let sender: RecordingSender;
  let scheduler: DeliveryScheduler;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'intake-first-'));
    clock = new ManualClock();
    store = new MemoryStore(dir, clock);
    sender = new RecordingSender(clock);
    const config = configSchema.parse({
      accounts: [{ name: 'sage', mailbox: 'sage@contoso.com', auth: { method: 'client-credentials', tenantId: 'contoso.com', clientId: 'client', clientSecretEnv: 'SECRET' }, rate: { messages: 1000, perSeconds: 1 } }],
    });
    scheduler = new DeliveryScheduler({ config, store, transportFor: () => sender, clock, logger: silentLogger(), reportingHost: 'relay.local', intakePriority: LIMITS });
    scheduler.start([]);
  });

  afterEach(async () => {
    await scheduler.stop(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('starts no send while messages keep arriving, and sends them all once intake is quiet', async () => {
    const started = clock.now();
    for (let n = 0; n < 20; n += 1) {
      scheduler.accepted(await store.add(`m${n}`, ['bob@fabrikam.com']));
      await clock.advance(10);
    }
    expect(sender.startedAt).toEqual([]);
    await clock.advance(60);
    expect(sender.startedAt.map((send) => send.id).sort()).toEqual(Array.from({ length: 20 }, (_, n) => `m${n}`).sort());
    // The first send waited for the quiet spell after the last acceptance (at +190 ms).
    expect(Math.min(...sender.startedAt.map((send) => send.at)) - started).toBeGreaterThanOrEqual(240);
  });

  it('does not hold delivery longer than longestHoldMs under a client that never stops', async () => {
    const started = clock.now();
    for (let n = 0; n < 300 && sender.startedAt.length === 0; n += 1) {
      scheduler.accepted(await store.add(`m${n}`, ['bob@fabrikam.com']));
      await clock.advance(10);
    }
    expect(sender.startedAt.length).toBeGreaterThan(0);
    expect(sender.startedAt[0]!.at - started).toBeLessThanOrEqual(LIMITS.longestHoldMs);
    expect(sender.startedAt[0]!.at - started).toBeGreaterThanOrEqual(LIMITS.longestHoldMs - 10);
  });

  it('leaves records that are not a client’s (DSNs, notices, boot) to go at once', async () => {
    scheduler.enqueue(await store.add('dsn1', ['sage@contoso.com'], { kind: 'dsn' }));
    await clock.advance(0);
    expect(sender.startedAt.map((send) => send.id)).toEqual(['dsn1']);
  });
});
