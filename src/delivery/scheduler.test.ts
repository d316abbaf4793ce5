import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../test/support/manual-clock.js';
import { MemoryStore } from '../../test/support/memory-delivery-store.js';
import { configSchema, type Config } from '../core/config.js';
import { silentLogger } from '../core/logger.js';
import { readMessage } from '../core/message-file.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { MessageSender, SendOptions, SendResult } from './message-sender.js';
import { DeliveryScheduler, type DeliveryObserver } from './scheduler.js';

const MAILBOX = 'sage@contoso.com';

function makeConfig(overrides: { maxConnections?: number; rate?: { messages: number; perSeconds: number } } = {}): Config {
  return configSchema.parse({
    accounts: [
      {
        name: 'sage',
        mailbox: MAILBOX,
        auth: { method: 'client-credentials', tenantId: 'contoso.com', clientId: 'client', clientSecretEnv: 'SECRET' },
        ...(overrides.maxConnections === undefined ? {} : { maxConnections: overrides.maxConnections }),
        ...(overrides.rate === undefined ? {} : { rate: overrides.rate }),
      },
    ],
    delivery: { retryDelaysSeconds: [60, 300], maxQueueLifetimeHours: 120, throttleBackoffSeconds: [30, 60], holdRetrySeconds: 300 },
  });
}

interface Call {
  readonly id: string;
  readonly recipients: string[];
  readonly options: SendOptions | undefined;
}

/** An upstream whose answers the test writes; counts concurrency. */
class ScriptedSender implements MessageSender {
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;

  constructor(public script: (call: Call) => SendResult | Promise<SendResult>) {}

  async send(record: QueueRecord, recipients: string[], options?: SendOptions): Promise<SendResult> {
    const call = { id: record.id, recipients: [...recipients], options };
    this.calls.push(call);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await this.script(call);
    } finally {
      this.inFlight -= 1;
    }
  }
  close(): void {
    this.closed = true;
  }
}

const accept = (call: Call): SendResult => ({ kind: 'sent', response: `250 2.0.0 OK queued as ${call.id}`, accepted: call.recipients, rejected: [] });

describe('DeliveryScheduler', () => {
  let dir: string;
  let clock: ManualClock;
  let store: MemoryStore;
  let scheduler: DeliveryScheduler | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'delivery-'));
    clock = new ManualClock();
    store = new MemoryStore(dir, clock);
  });

  afterEach(async () => {
    await scheduler?.stop(0);
    scheduler = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  function startScheduler(sender: ScriptedSender, config = makeConfig(), observer?: DeliveryObserver): DeliveryScheduler {
    scheduler = new DeliveryScheduler({
      config,
      store,
      transportFor: () => sender,
      clock,
      logger: silentLogger(),
      reportingHost: 'relay.contoso.local',
      ...(observer === undefined ? {} : { observer }),
    });
    return scheduler;
  }

  it('never has more than maxConnections sends in flight and delivers everything', async () => {
    const gates: Array<() => void> = [];
    const sender = new ScriptedSender((call) => new Promise((resolve) => gates.push(() => resolve(accept(call)))));
    const records = await Promise.all(Array.from({ length: 10 }, (_, i) => store.add(`m${i}`, [`r${i}@fabrikam.com`])));
    startScheduler(sender).start(records);
    for (let round = 0; round < 10 && store.removed.length < 10; round += 1) {
      await settle();
      expect(sender.inFlight).toBeLessThanOrEqual(3);
      gates.splice(0).forEach((open) => open());
      await settle();
    }
    expect(store.removed.sort()).toEqual(records.map((r) => r.id).sort());
    expect(sender.maxInFlight).toBe(3);
  });

  it('respects the rate: the message over the limit waits until the window frees', async () => {
    const sender = new ScriptedSender(accept);
    const records = await Promise.all(Array.from({ length: 7 }, (_, i) => store.add(`m${i}`, ['x@fabrikam.com'])));
    startScheduler(sender, makeConfig({ rate: { messages: 5, perSeconds: 60 } })).start(records);
    await clock.advance(0);
    expect(sender.calls).toHaveLength(5);
    await clock.advance(59_999);
    expect(sender.calls).toHaveLength(5);
    await clock.advance(1);
    expect(sender.calls).toHaveLength(7);
    expect(store.removed).toHaveLength(7);
  });

  it('while the rate holds a backlog back, a new message costs no look through the backlog', async () => {
    const sender = new ScriptedSender(accept);
    let reads = 0;
    // Counts how often the scheduler compares records by age.
    const counted = (record: QueueRecord): QueueRecord =>
      new Proxy(record, {
        get(target, key, receiver) {
          if (key === 'receivedAt') reads += 1;
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    const backlog = await Promise.all(Array.from({ length: 300 }, (_, i) => store.add(`m${String(i).padStart(3, '0')}`, ['x@fabrikam.com'])));
    const running = startScheduler(sender, makeConfig({ rate: { messages: 5, perSeconds: 60 } }));
    running.start(backlog.map(counted));
    await clock.advance(0);
    expect(sender.calls).toHaveLength(5);
    reads = 0;
    for (let i = 0; i < 50; i += 1) running.enqueue(counted(await store.add(`n${i}`, ['x@fabrikam.com'])));
    await clock.advance(0);
    expect(sender.calls).toHaveLength(5);
    expect(reads).toBe(0);
    // When the window frees, the oldest go first.
    await clock.advance(60_000);
    expect(sender.calls.slice(5).map((call) => call.id)).toEqual(['m005', 'm006', 'm007', 'm008', 'm009']);
  });

  it('removes a fully delivered message without rewriting its record first (one fsync round less)', async () => {
    const sender = new ScriptedSender(accept);
    const record = await store.add('m1', ['a@fabrikam.com', 'b@fabrikam.com']);
    startScheduler(sender).start([record]);
    await clock.advance(0);
    expect(store.removed).toEqual(['m1']);
    expect(store.updates).toEqual([]);
  });

  it('frees the connection once the upstream accepted, while the removal still waits', async () => {
    const sender = new ScriptedSender(accept);
    const records = await Promise.all(['m1', 'm2'].map((id) => store.add(id, ['a@fabrikam.com'])));
    const removals: Array<() => void> = [];
    const remove = store.remove.bind(store);
    store.remove = (id: string): Promise<void> => new Promise((resolve) => removals.push(() => void remove(id).then(resolve)));
    const running = startScheduler(sender, makeConfig({ maxConnections: 1 }));
    running.start(records);
    await clock.advance(0);
    // One connection, and m1's removal not done: m2 went all the same.
    expect(sender.calls.map((call) => call.id)).toEqual(['m1', 'm2']);
    expect(removals).toHaveLength(2);
    // The record of a message being removed is never queued (and sent) again.
    running.enqueue(records[0]!);
    await clock.advance(0);
    expect(sender.calls).toHaveLength(2);
    let idle = false;
    void running.idle().then(() => (idle = true));
    await settle();
    expect(idle).toBe(false);
    expect(running.snapshot().totals.delivered).toBe(0);
    removals.splice(0).forEach((done) => done());
    await settle();
    expect(idle).toBe(true);
    expect(store.removed).toEqual(['m1', 'm2']);
    expect(running.snapshot().totals).toMatchObject({ delivered: 2, queued: 0, inFlight: 0 });
  });

  it('records the delivered recipients when the removal fails, and never sends to them again', async () => {
    const sender = new ScriptedSender(accept);
    const record = await store.add('m1', ['a@fabrikam.com']);
    let removals = 0;
    const remove = store.remove.bind(store);
    store.remove = async (id: string): Promise<void> => {
      removals += 1;
      if (removals === 1) throw new Error('EIO: unlink failed');
      await remove(id);
    };
    startScheduler(sender).start([record]);
    await clock.advance(0);
    expect(store.updates.map((update) => update.recipients.map((r) => r.status))).toEqual([['delivered']]);
    await clock.advance(24 * 3600 * 1000);
    expect(store.removed).toEqual(['m1']);
    expect(sender.calls).toHaveLength(1);
  });

  it('records delivered recipients first and retries only the rest', async () => {
    const sender: ScriptedSender = new ScriptedSender((call): SendResult =>
      sender.calls.length === 1
        ? {
            kind: 'sent',
            response: '250 2.0.0 OK queued as A1',
            accepted: ['a@fabrikam.com'],
            rejected: [{ address: 'b@fabrikam.com', reply: { code: 451, text: '451 4.4.0 Temporary server error', errorCode: 'EENVELOPE' } }],
          }
        : accept(call),
    );
    const record = await store.add('m1', ['a@fabrikam.com', 'b@fabrikam.com']);
    startScheduler(sender).start([record]);
    await clock.advance(0);

    const first = store.updates[0];
    expect(first?.recipients.find((r) => r.address === 'a@fabrikam.com')).toMatchObject({ status: 'delivered', lastReply: { code: 250, text: '250 2.0.0 OK queued as A1' } });
    expect(first?.attempts).toBe(0);
    const deferred = store.records.get('m1');
    expect(deferred?.attempts).toBe(1);
    expect(Date.parse(deferred?.nextAttemptAt ?? '')).toBe(clock.now() + 60_000);

    await clock.advance(60_000);
    expect(sender.calls.map((c) => c.recipients)).toEqual([['a@fabrikam.com', 'b@fabrikam.com'], ['b@fabrikam.com']]);
    expect(store.removed).toEqual(['m1']);
  });

  it('fails a SendAsDenied message with a DSN, and never bounces a failing DSN', async () => {
    const sendAsDenied: SendResult = { kind: 'failed', reply: { code: 550, text: '550 5.7.60 SMTP; Client does not have permissions to send as this sender', errorCode: 'EMESSAGE' } };
    const sender = new ScriptedSender(() => sendAsDenied);
    const record = await store.add('m1', ['a@fabrikam.com'], { subject: 'Invoice 42' });
    const s = startScheduler(sender);
    s.start([record]);
    await clock.advance(0);
    await s.idle();

    expect(store.failed.map((r) => r.id)).toContain('m1');
    expect(store.failed[0]?.recipients[0]).toMatchObject({ status: 'failed', lastReply: { code: 550 } });
    expect(store.enqueued).toHaveLength(1);
    const dsn = store.enqueued[0]!;
    expect(dsn.fields).toMatchObject({ kind: 'dsn', account: 'sage', mailFrom: MAILBOX, recipients: ['accounts@contoso.com'] });
    const text = dsn.raw.toString('utf8');
    expect(text).toContain('Subject: Undeliverable: Invoice 42');
    expect(text).toContain('Final-Recipient: rfc822; a@fabrikam.com');
    expect(text).toContain('Status: 5.7.60');

    // The DSN itself went out (same scripted refusal), failed, and was not bounced.
    await clock.advance(0);
    await s.idle();
    expect(sender.calls.map((c) => c.id)).toEqual(['m1', dsn.record.id]);
    expect(store.failed.map((r) => r.id)).toEqual(['m1', dsn.record.id]);
    expect(store.enqueued).toHaveLength(1);
  });

  it.each([
    ['at DATA, under 5.2.252', { code: 554, text: '554 5.2.252 SendAsDeniedException.Mapi.ExRpcException', errorCode: 'EMESSAGE' }],
    ['at DATA, as STOREDRV', { code: 554, text: '554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot submit message.', errorCode: 'EMESSAGE' }],
    ['at MAIL FROM, as 5.7.60', { code: 550, text: '550 5.7.60 SMTP; Client does not have permissions to send as this sender', errorCode: 'EENVELOPE' }],
  ])('SendAsDenied %s fails the message once with one DSN, and the account goes on at once', async (_shape, reply) => {
    const sender = new ScriptedSender((call) => (call.id === 'denied' ? { kind: 'failed', reply } : accept(call)));
    const s = startScheduler(sender, makeConfig({ maxConnections: 1 }));
    const denied = await store.add('denied', ['a@fabrikam.com']);
    const good = await Promise.all([1, 2, 3, 4, 5].map((n) => store.add(`good${n}`, ['b@fabrikam.com'], { receivedAt: clock.now() + n })));
    s.start([denied, ...good]);
    for (let step = 0; step < 5; step += 1) {
      await clock.advance(10);
      await s.idle();
    }
    // Tried once, failed once, one DSN; the five behind it went without waiting (no pause).
    expect(sender.calls.filter((c) => c.id === 'denied')).toHaveLength(1);
    expect(store.failed.map((r) => r.id)).toEqual(['denied']);
    expect(store.failed[0]?.recipients[0]?.lastReply).toMatchObject({ condition: 'send-as-denied', code: reply.code });
    expect(store.enqueued.filter((e) => e.fields.kind === 'dsn')).toHaveLength(1);
    expect(store.removed).toEqual(expect.arrayContaining(['good1', 'good2', 'good3', 'good4', 'good5']));
    expect(sender.calls.map((c) => c.id).slice(0, 6)).toEqual(['denied', 'good1', 'good2', 'good3', 'good4', 'good5']);
    expect(s.snapshot().accounts[0]).toMatchObject({ state: 'active', lastError: { condition: 'send-as-denied', id: 'denied' } });
  });

  it('never bounces an administrator notice that fails either', async () => {
    const refused: SendResult = { kind: 'failed', reply: { code: 550, text: '550 5.1.10 RESOLVER.ADR.RecipientNotFound', errorCode: 'EENVELOPE' } };
    const sender = new ScriptedSender(() => refused);
    const s = startScheduler(sender);
    s.start([await store.add('n1', ['admin@contoso.com'], { kind: 'notice' })]);
    await clock.advance(0);
    await s.idle();
    expect(store.failed.map((r) => r.id)).toEqual(['n1']);
    expect(store.enqueued).toEqual([]);
  });

  it('pauses a throttled account without counting attempts, then delivers all', async () => {
    const throttledUntil = clock.now() + 30_000;
    const sender = new ScriptedSender((call) =>
      clock.now() < throttledUntil ? { kind: 'failed', reply: { code: 432, text: '432 4.3.2 Concurrent connections limit exceeded', errorCode: 'EAUTH' } } : accept(call),
    );
    const records = await Promise.all(['m1', 'm2', 'm3', 'm4'].map((id) => store.add(id, ['x@fabrikam.com'])));
    const s = startScheduler(sender);
    s.start(records);
    await clock.advance(0);
    const callsWhileThrottled = sender.calls.length;
    expect(callsWhileThrottled).toBe(3);
    expect(s.snapshot().accounts[0]).toMatchObject({ state: 'throttled', queued: 4 });
    expect(s.snapshot().accounts[0]?.reason).toContain('4.3.2');
    expect(store.updates).toEqual([]);
    expect(store.failed).toEqual([]);

    await clock.advance(29_999);
    expect(sender.calls.length).toBe(callsWhileThrottled);
    await clock.advance(1);
    await s.idle();
    await clock.advance(0);
    expect(store.removed.sort()).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(s.snapshot().accounts[0]?.state).toBe('active');
    expect(store.updates.every((r) => r.attempts === 0)).toBe(true);
  });

  it('an HTTP upstream that says Retry-After pauses the account exactly that long (the seam for Microsoft Graph)', async () => {
    const answers: Array<'throttle' | 'accept'> = ['throttle', 'accept'];
    const sender = new ScriptedSender((call) =>
      answers.shift() === 'throttle'
        ? { kind: 'failed', reply: { origin: 'graph', httpStatus: 429, graphCode: 'ApplicationThrottled', text: 'Application is over its MailboxConcurrency limit.', retryAfterSeconds: 17 } }
        : accept(call),
    );
    const s = startScheduler(sender, makeConfig({ maxConnections: 1 }));
    s.start([await store.add('m1', ['a@fabrikam.com'])]);
    await clock.advance(0);
    expect(s.snapshot().accounts[0]).toMatchObject({ state: 'throttled', condition: 'http-throttled' });
    await clock.advance(16_999);
    expect(sender.calls).toHaveLength(1);
    await clock.advance(1);
    await s.idle();
    expect(store.removed).toEqual(['m1']);
    expect(store.updates.every((r) => r.attempts === 0)).toBe(true);
  });

  it('grows the throttle pause while throttling continues and resets it after a success', async () => {
    const answers: Array<'throttle' | 'accept'> = ['throttle', 'throttle', 'accept', 'throttle', 'accept'];
    const sender = new ScriptedSender((call) =>
      answers.shift() === 'throttle' ? { kind: 'failed', reply: { code: 432, text: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' } } : accept(call),
    );
    const s = startScheduler(sender, makeConfig({ maxConnections: 1 }));
    s.start([await store.add('m1', ['a@fabrikam.com']), await store.add('m2', ['b@fabrikam.com'], { receivedAt: clock.now() + 1 })]);
    await clock.advance(0);
    expect(sender.calls).toHaveLength(1);
    await clock.advance(30_000); // first pause: 30 s
    expect(sender.calls).toHaveLength(2);
    await clock.advance(59_999); // second pause: 60 s
    expect(sender.calls).toHaveLength(2);
    await clock.advance(1);
    expect(sender.calls).toHaveLength(4); // m1 delivered, m2 throttled
    await clock.advance(30_000); // reset after the success: 30 s again
    expect(sender.calls).toHaveLength(5);
    expect(store.removed).toEqual(['m1', 'm2']);
  });

  it('on 535 refreshes the token once, then holds the account with messages untouched until released', async () => {
    let accepting = false;
    const sender = new ScriptedSender((call) =>
      accepting ? accept(call) : { kind: 'failed', reply: { code: 535, text: '535 5.7.3 Authentication unsuccessful', errorCode: 'EAUTH' } },
    );
    const records = [await store.add('m1', ['a@fabrikam.com']), await store.add('m2', ['b@fabrikam.com'], { receivedAt: clock.now() + 1 })];
    const s = startScheduler(sender, makeConfig({ maxConnections: 1 }));
    s.start(records);
    await clock.advance(0);

    expect(sender.calls.map((c) => [c.id, c.options?.forceTokenRefresh === true])).toEqual([
      ['m1', false],
      ['m1', true],
    ]);
    const account = s.snapshot().accounts[0];
    // App-only: no person can sign in, an administrator gives the app the mailbox.
    expect(account?.state).toBe('held-for-admin');
    expect(account?.reason).toContain('535 5.7.3');
    expect(account?.queued).toBe(2);
    expect(store.updates).toEqual([]);

    // Nothing else is sent while held; one probe per holdRetrySeconds (300 s).
    await clock.advance(299_000);
    expect(sender.calls).toHaveLength(2);
    await clock.advance(1_000);
    expect(sender.calls).toHaveLength(3);
    expect(sender.calls[2]?.options?.forceTokenRefresh).toBe(true);
    expect(s.snapshot().accounts[0]?.state).toBe('held-for-admin');

    accepting = true;
    s.release('sage');
    await clock.advance(0);
    await s.idle();
    await clock.advance(0);
    expect(store.removed.sort()).toEqual(['m1', 'm2']);
    expect(s.snapshot().accounts[0]?.state).toBe('active');
    expect(store.updates.every((r) => r.attempts === 0)).toBe(true);
  });

  it('holds on a sign-in error from the token provider and lifts the hold when a probe succeeds', async () => {
    let signedIn = false;
    const sender = new ScriptedSender((call) => (signedIn ? accept(call) : { kind: 'sign-in-required', reason: 'AADSTS7000215: invalid client secret' }));
    const s = startScheduler(sender);
    s.start([await store.add('m1', ['a@fabrikam.com'])]);
    await clock.advance(0);
    expect(s.snapshot().accounts[0]).toMatchObject({ state: 'held-for-admin', condition: 'client-secret-invalid', queued: 1 });
    expect(s.snapshot().totals.heldAccounts).toBe(1);
    signedIn = true;
    await clock.advance(300_000);
    await s.idle();
    expect(store.removed).toEqual(['m1']);
    expect(s.snapshot().accounts[0]?.state).toBe('active');
  });

  it('hold() from outside (a keep-alive refused) stops sending before anything fails, until release', async () => {
    const sender = new ScriptedSender(accept);
    const s = startScheduler(sender);
    s.start([]);
    s.hold('sage', 'sign-in required: AADSTS700082 refresh token expired by inactivity');
    s.enqueue(await store.add('m1', ['a@fabrikam.com']));
    await clock.advance(0);
    expect(sender.calls).toEqual([]);
    expect(s.snapshot().accounts[0]).toMatchObject({ state: 'held-for-admin', condition: 'sign-in-again', queued: 1, reason: expect.stringContaining('AADSTS700082') });

    s.release('sage');
    // After a login the error that held the account is no longer shown as the last one.
    expect(s.snapshot().accounts[0]?.lastError).toBeUndefined();
    await clock.advance(0);
    await s.idle();
    expect(store.removed).toEqual(['m1']);
    expect(s.snapshot().accounts[0]?.state).toBe('active');
  });

  it('defers the account briefly when the token service is unreachable, counting no attempt', async () => {
    let reachable = false;
    const sender = new ScriptedSender((call) => (reachable ? accept(call) : { kind: 'token-unavailable', reason: 'fetch failed' }));
    const s = startScheduler(sender);
    s.start([await store.add('m1', ['a@fabrikam.com'])]);
    await clock.advance(0);
    // Not "throttling": the identity provider is out of reach, and status says so.
    expect(s.snapshot().accounts[0]).toMatchObject({ state: 'waiting-for-identity-provider', condition: 'identity-provider-unreachable' });
    expect(s.snapshot().accounts[0]?.doing).toContain('identity provider');
    expect(store.updates).toEqual([]);
    reachable = true;
    await clock.advance(60_000);
    await s.idle();
    expect(store.removed).toEqual(['m1']);
  });

  it('gives up after the queue lifetime with a 4.4.7 DSN', async () => {
    const sender = new ScriptedSender(() => ({ kind: 'failed', reply: { text: 'connect ECONNREFUSED 127.0.0.1:587', errorCode: 'ESOCKET' } }));
    const record = await store.add('old', ['a@fabrikam.com'], { receivedAt: clock.now() - 120 * 3600_000 + 30_000 });
    const s = startScheduler(sender);
    s.start([record]);
    await clock.advance(0);
    expect(store.records.get('old')?.attempts).toBe(1);
    expect(store.failed).toEqual([]);

    await clock.advance(60_000);
    await s.idle();
    expect(store.failed.map((r) => r.id)).toEqual(['old']);
    expect(store.failed[0]?.recipients[0]?.lastReply?.text).toMatch(/^4\.4\.7 /);
    const dsn = store.enqueued[0]?.raw.toString('utf8') ?? '';
    expect(dsn).toContain('Status: 4.4.7');
    expect(dsn).toContain('Action: failed');
    expect(dsn).toContain('ECONNREFUSED');
  });

  it('retryNow makes a deferred message due at once; forget drops it', async () => {
    const sender = new ScriptedSender(() => ({ kind: 'failed', reply: { code: 451, text: '451 4.3.0 Try later' } }));
    const s = startScheduler(sender);
    s.start([await store.add('m1', ['a@fabrikam.com']), await store.add('m2', ['b@fabrikam.com'])]);
    await clock.advance(0);
    expect(sender.calls).toHaveLength(2);
    expect(s.retryNow('m1')).toEqual({ at: new Date(clock.now()).toISOString() });
    await clock.advance(0);
    expect(sender.calls.map((c) => c.id)).toEqual(['m1', 'm2', 'm1']);
    expect(s.forget('m2')).toBe(true);
    expect(s.retryNow('m2')).toBeUndefined();
    expect(s.snapshot().accounts[0]?.queued).toBe(1);
  });

  it('retryNow while clients hand over messages says that sends wait for them to pause, and until when', async () => {
    const sender = new ScriptedSender(() => ({ kind: 'failed', reply: { code: 451, text: '451 4.3.0 Try later' } }));
    const s = startScheduler(sender);
    s.start([await store.add('m1', ['a@fabrikam.com'])]);
    await clock.advance(0);
    expect(sender.calls).toHaveLength(1);
    s.accepted(await store.add('m2', ['b@fabrikam.com']));
    const plan = s.retryNow('m1');
    // INTAKE_PRIORITY: intake counts as busy for 50 ms after each accepted message.
    expect(plan).toEqual({ at: new Date(clock.now() + 50).toISOString(), waitingFor: 'clients are handing over messages; sends start when they pause' });
    await clock.advance(49);
    expect(sender.calls).toHaveLength(1);
    await clock.advance(1);
    expect(sender.calls.map((c) => c.id).sort()).toEqual(['m1', 'm1', 'm2']);
  });

  it('tells its observer of each delivery, deferral and failure, with the rule that decided it', async () => {
    const events: string[] = [];
    const observer: DeliveryObserver = {
      delivered: (record, now) => events.push(`delivered ${record.id} ${now - Date.parse(record.receivedAt)}`),
      deferred: (record, reason) => events.push(`deferred ${record.id} ${reason} attempts=${record.attempts}`),
      failed: (record, reason) => events.push(`failed ${record.id} ${reason}`),
    };
    const sender = new ScriptedSender((call): SendResult => {
      if (call.id === 'denied') return { kind: 'failed', reply: { code: 550, text: '550 5.7.60 SMTP; Client does not have permissions to send as this sender', errorCode: 'EMESSAGE' } };
      if (call.id === 'later' && sender.calls.filter((c) => c.id === 'later').length === 1) {
        return { kind: 'failed', reply: { code: 451, text: '451 4.4.0 Temporary server error', errorCode: 'EMESSAGE' } };
      }
      return accept(call);
    });
    const received = clock.now();
    const s = startScheduler(sender, makeConfig(), observer);
    s.start([await store.add('later', ['a@fabrikam.com'], { receivedAt: received }), await store.add('denied', ['b@fabrikam.com'], { receivedAt: received + 1 })]);
    await clock.advance(0);
    await s.idle();
    await clock.advance(60_000);
    await s.idle();

    expect(events).toContain('deferred later transient attempts=1');
    expect(events).toContain('failed denied send-as-denied');
    expect(events).toContain('delivered later 60000');
    // The DSN for "denied" is reported too (the observer decides what to count).
    expect(events.filter((event) => event.startsWith('delivered dsn'))).toHaveLength(1);
  });

  it('reports a message that outlived the queue as failed for "expired"', async () => {
    const failures: string[] = [];
    const observer: DeliveryObserver = { delivered: () => undefined, deferred: () => undefined, failed: (record, reason) => failures.push(`${record.id} ${reason}`) };
    const sender = new ScriptedSender(() => ({ kind: 'failed', reply: { text: 'connect ECONNREFUSED 127.0.0.1:587', errorCode: 'ESOCKET' } }));
    const s = startScheduler(sender, makeConfig(), observer);
    s.start([await store.add('old', ['a@fabrikam.com'], { receivedAt: clock.now() - 120 * 3600_000 })]);
    await clock.advance(0);
    await s.idle();
    expect(failures[0]).toBe('old expired');
  });

  it('stop closes the transport', async () => {
    const sender = new ScriptedSender(accept);
    const s = startScheduler(sender);
    const record = await store.add('m1', ['a@fabrikam.com']);
    s.start([record]);
    await clock.advance(0);
    await s.stop(1000);
    scheduler = undefined;
    expect(sender.closed).toBe(true);
    expect((await readMessage(store.messageFile(record))).toString('utf8')).toContain('Invoice 42');
  });
});
