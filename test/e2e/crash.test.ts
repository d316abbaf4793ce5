/**
 * The relay process is killed with SIGKILL (no shutdown code runs) at the three moments that
 * matter for durability (docs/architecture.md, "Queue, not pass-through" and "Folders are states"):
 *  (a) while a message is being received: nothing was acknowledged, so nothing may be queued or
 *      delivered after the restart, and the partial file is removed;
 *  (b) right after `250`: the message was acknowledged, so it must be delivered after the
 *      restart, exactly once;
 *  (c) with deliveries in flight: every acknowledged message arrives, and only the ones whose
 *      DATA had reached Exchange (reply lost with the process) may arrive twice;
 *  (d) in the middle of commits (message files, their records and folder fsyncs under way): every
 *      acknowledged message arrives exactly once, and recovery removes the rest without
 *      quarantining anything.
 * Needs `npm run build` first (npm test does it).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SmtpWire } from '../support/smtp-wire.js';
import { MOCK_MAILBOX, type DataReplyHold } from '../mock-tenant/index.js';
import type { RelayProcess } from '../support/relay-process.js';
import { copiesById, expectCopies, FaultFixture, legacyMessage, LegacyClient, messageIdFor, messageIdOf, RECIPIENT, sendBatch, SENDER, waitForAllDelivered, waitUntil } from './fault-fixture.js';

async function fileSize(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

describe('relay killed with SIGKILL', () => {
  let fixture: FaultFixture | undefined;

  afterEach(async ({ task }) => {
    // The relay's own account of what happened is the quickest way to see why a test failed.
    if (task.result?.state === 'fail' && fixture !== undefined) process.stdout.write(`${fixture.logs()}\n`);
    await fixture?.close();
    fixture = undefined;
  });

  it('(a) during DATA: the half-received message is neither queued nor delivered, and its partial file is removed', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay();

    const wire = await SmtpWire.open(relay.port);
    await wire.startData(SENDER, [RECIPIENT]);
    // Half a message: headers and 256 KiB of body, no final dot.
    const half = legacyMessage('half', 'x'.repeat(1022).concat('\r\n').repeat(256));
    wire.write(half);
    // The message is received straight into spool/queue; without its record it is not queued.
    await waitUntil('the partial message in spool/queue', async () => {
      const names = await fixture!.spoolFiles('queue');
      const sizes = await Promise.all(names.map((name) => fileSize(join(fixture!.dataDir, 'spool', 'queue', name))));
      return sizes.some((size) => size > 0);
    });
    expect((await fixture.spoolFiles('queue')).filter((name) => !name.endsWith('.eml'))).toEqual([]);

    await relay.kill('SIGKILL');
    wire.close();
    expect((await fixture.spoolFiles('queue')).length).toBeGreaterThan(0);

    const restarted = await fixture.startRelay();
    const recovered = await restarted.waitForLog((line) => line.msg === 'spool recovered');
    expect(recovered.queued).toBe(0);
    expect(recovered.removedLeftovers).toBeGreaterThan(0);
    expect(await fixture.spoolFiles('queue')).toEqual([]);
    expect(await fixture.spoolFiles('tmp')).toEqual([]);
    expect(await fixture.queueList(restarted)).toEqual([]);

    // A message sent after the restart is delivered; it is the only one that ever arrives.
    const client = await LegacyClient.connect(restarted.port);
    await client.send('after-restart');
    await client.quit();
    await restarted.waitForLog((line) => line.msg === 'message delivered');
    await restarted.kill('SIGTERM');
    expect(fixture.tenant.upstream.messages.map(messageIdOf)).toEqual([messageIdFor('after-restart')]);
  });

  it('(b) right after 250: the acknowledged message is delivered after the restart, exactly once', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    // Exchange unreachable, so the message cannot have been delivered before the kill.
    await upstream.down();
    const relay = await fixture.startRelay();

    const client = await LegacyClient.connect(relay.port);
    const id = await client.send('acknowledged');
    await relay.kill('SIGKILL');
    await client.quit();
    // The message with its record at its end (docs/architecture.md, "One file per message"); a
    // .json beside it only if a first attempt was deferred before the kill.
    expect((await fixture.spoolFiles('queue')).filter((name) => name !== `${id}.json`)).toEqual([`${id}.eml`]);

    await upstream.up();
    const restarted = await fixture.startRelay();
    expect((await restarted.waitForLog((line) => line.msg === 'spool recovered')).queued).toBe(1);
    await restarted.waitForLog((line) => line.msg === 'message delivered' && line.id === id);
    // A clean stop waits for anything still in flight, so a second copy would have arrived by now.
    await restarted.kill('SIGTERM');
    expect(upstream.messages.map(messageIdOf)).toEqual([messageIdFor('acknowledged')]);
    expect(await fixture.spoolFiles('queue')).toEqual([]);
    expect(await fixture.spoolFiles('failed')).toEqual([]);
  });

  it('after a partial delivery: the recipient already delivered is not sent again after the restart', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    const later = 'accounts@northwind.example';
    // Exchange takes the first recipient and defers the second one (4xx at RCPT TO).
    upstream.script({ phase: 'rcpt', reply: { code: 450, text: '4.2.1 Mailbox temporarily unavailable' }, times: Infinity, match: (context) => context.rcptTo === later });
    const relay = await fixture.startRelay({ delivery: { retryDelaysSeconds: [600] } });

    const client = await LegacyClient.connect(relay.port);
    const id = await client.send('partial', SENDER, [RECIPIENT, later]);
    await client.quit();
    await relay.waitForLog((line) => line.msg === 'delivery deferred' && line.id === id);
    await relay.kill('SIGKILL');

    // The record on disk (read by the CLI, no daemon running) remembers who has it already.
    const [record] = await fixture.queueList(relay);
    expect(record?.recipients).toMatchObject([
      { address: RECIPIENT, status: 'delivered' },
      { address: later, status: 'pending' },
    ]);

    upstream.clearScripts();
    // With the 10-minute retry delay the restarted relay would wait; `queue retry` makes it due now.
    const restarted = await fixture.startRelay({ delivery: { retryDelaysSeconds: [600] } });
    await fixture.queueRetry(restarted, id);
    await restarted.waitForLog((line) => line.msg === 'message delivered' && line.id === id);
    await restarted.kill('SIGTERM');
    expect(upstream.messages.map((message) => message.rcptTo)).toEqual([[RECIPIENT], [later]]);
    expect(await fixture.spoolFiles('queue')).toEqual([]);
  });

  it('(c) with a batch partly delivered, partly in flight and partly waiting: all arrive, duplicates only for those in flight', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    const deliveredFirst = 5;
    const maxConnections = 3;
    const relay: RelayProcess = await fixture.startRelay({
      accounts: fixture.config().accounts.map((account) => ({ ...account, maxConnections, rate: { messages: 1000, perSeconds: 1 } })),
    });

    // After the first 5 messages, Exchange stores each message but holds its 250: those are in flight.
    let hold: DataReplyHold | undefined;
    upstream.on('message', () => {
      if (upstream.messages.length === deliveredFirst) hold = upstream.holdDataReplies();
    });

    const tags = Array.from({ length: 20 }, (_, n) => `batch-${String(n + 1).padStart(2, '0')}`);
    const queueIds = await sendBatch(relay.port, tags, 4);
    expect(queueIds.size).toBe(tags.length);

    await waitUntil('the first messages to be delivered and the rest to be held', () => hold !== undefined);
    const inFlight = (await hold!.waitForHeld(maxConnections)).map(messageIdOf);
    // Wait until the relay has recorded the 5 unheld deliveries, so that no 250 is lost for them.
    await waitUntil('5 deliveries logged', () => relay.linesWith('message delivered').length === deliveredFirst);
    // Delivered ones are removed from the queue; held and waiting ones are still there, one file each.
    await waitUntil('delivered messages removed', async () => (await fixture!.spoolFiles('queue')).length === tags.length - deliveredFirst);
    expect(inFlight).toHaveLength(maxConnections);

    await relay.kill('SIGKILL');
    // The held replies go nowhere: the relay's connections died with it.
    await waitUntil('the killed relay connections to close', () => upstream.activeConnections(MOCK_MAILBOX) === 0);
    hold!.release();

    const restarted = await fixture.startRelay();
    expect((await restarted.waitForLog((line) => line.msg === 'spool recovered')).queued).toBe(tags.length - deliveredFirst);
    await waitForAllDelivered(fixture, tags);
    await restarted.kill('SIGTERM');

    // The in-flight ones are sent again after the restart (at-least-once); no other is.
    expectCopies(upstream.messages, tags, inFlight);
    expect(upstream.messages).toHaveLength(tags.length + maxConnections);
    expect(await fixture.spoolFiles('failed')).toEqual([]);
  });

  it('(d) in the middle of commits from 4 clients, three times over: every acknowledged message arrives once, nothing is quarantined', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    // Exchange unreachable until the end: nothing is delivered, so nothing can arrive twice.
    await upstream.down();
    const acknowledged: string[] = [];
    const sent: string[] = [];
    for (let cycle = 0; cycle < 3; cycle += 1) {
      const relay = await fixture.startRelay();
      const recovered = await relay.waitForLog((line) => line.msg === 'spool recovered');
      expect(recovered.quarantined).toBe(0);
      expect(recovered.queued).toBeGreaterThanOrEqual(acknowledged.length);
      const before = acknowledged.length;
      let killed = false;
      const lanes = Array.from({ length: 4 }, async (_unused, lane) => {
        for (let n = 0; !killed; n += 1) {
          const tag = `c${cycle}-l${lane}-${n}`;
          sent.push(tag);
          try {
            const client = await LegacyClient.connect(relay.port);
            await client.send(tag);
            acknowledged.push(tag);
            await client.quit().catch(() => undefined);
          } catch {
            return; // the relay died before this message's 250: it was never acknowledged
          }
        }
      });
      await waitUntil('15 more acknowledged messages', () => acknowledged.length >= before + 15);
      killed = true;
      await relay.kill('SIGKILL');
      await Promise.all(lanes);
    }

    await upstream.up();
    // Exchange's 30 a minute does not apply to the mock: the backlog goes out at once.
    const restarted = await fixture.startRelay({ accounts: fixture.config().accounts.map((account) => ({ ...account, rate: { messages: 1000, perSeconds: 1 } })) });
    const recovered = await restarted.waitForLog((line) => line.msg === 'spool recovered');
    expect(recovered.quarantined).toBe(0);
    await waitForAllDelivered(fixture, acknowledged);
    await restarted.kill('SIGTERM');
    const copies = copiesById(upstream.messages);
    for (const tag of acknowledged) expect(copies.get(messageIdFor(tag)), tag).toBe(1);
    // Committed but not yet acknowledged when the process died may arrive too (the client sends it again); nothing else.
    for (const id of copies.keys()) expect(sent.map(messageIdFor)).toContain(id);
    expect(await fixture.spoolFiles('quarantine')).toEqual([]);
  });
});
