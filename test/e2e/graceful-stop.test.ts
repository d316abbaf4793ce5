/**
 * Graceful stop of the real process (issue 5): SIGTERM while deliveries are in flight against a
 * slow Exchange (DATA replies held by the mock) and while a legacy program is in the middle of
 * DATA. The relay stops accepting (421 to new connections), lets the message in DATA finish,
 * waits for the sends under way within delivery.stopTimeoutSeconds, exits 0, and after a restart
 * every acknowledged message is delivered exactly once. A second signal exits at once (1) and
 * still loses nothing acknowledged. Needs `npm run build` first (npm test does it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DataReplyHold } from '../mock-tenant/index.js';
import { SmtpWire } from '../support/smtp-wire.js';
import type { RelayProcess } from '../support/relay-process.js';
import { expectCopies, FaultFixture, legacyMessage, messageIdOf, RECIPIENT, sendBatch, SENDER, waitForAllDelivered } from './fault-fixture.js';

const MAX_CONNECTIONS = 3;
/** Generous: the process must have ended long before; not a speed assertion. */
const EXIT_DEADLINE_MS = 30_000;

function withinDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${EXIT_DEADLINE_MS} ms`)), EXIT_DEADLINE_MS).unref())]);
}

describe('graceful stop of the relay process', () => {
  let fixture: FaultFixture | undefined;

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && fixture !== undefined) process.stdout.write(`${fixture.logs()}\n`);
    await fixture?.close();
    fixture = undefined;
  });

  async function startWithSendsInFlight(stopTimeoutSeconds: number): Promise<{ relay: RelayProcess; hold: DataReplyHold; tags: string[]; inFlight: string[] }> {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    const relay = await fixture.startRelay({
      accounts: fixture.config().accounts.map((account) => ({ ...account, maxConnections: MAX_CONNECTIONS, rate: { messages: 1000, perSeconds: 1 } })),
      delivery: { stopTimeoutSeconds },
    });
    // Exchange stores each message but holds its 250: the first three sends stay in flight.
    const hold = upstream.holdDataReplies();
    const tags = Array.from({ length: 6 }, (_, n) => `stop-${n + 1}`);
    const queueIds = await sendBatch(relay.port, tags, 2);
    expect(queueIds.size).toBe(tags.length);
    const inFlight = (await hold.waitForHeld(MAX_CONNECTIONS)).map((message) => messageIdOf(message) ?? '');
    expect(inFlight).toHaveLength(MAX_CONNECTIONS);
    return { relay, hold, tags, inFlight };
  }

  it('SIGTERM: 421 to new clients, the message in DATA and the sends in flight finish, exit 0, each message delivered exactly once', async () => {
    const { relay, hold, tags } = await startWithSendsInFlight(20);
    const { upstream } = fixture!.tenant;

    // A legacy program in the middle of DATA when the stop comes.
    const late = await SmtpWire.open(relay.port);
    await late.startData(SENDER, [RECIPIENT]);
    late.write(legacyMessage('during-stop').slice(0, 40));

    relay.child.kill('SIGTERM');
    await relay.waitForLog((line) => line.msg === 'relay stopping');

    // (a) a program connecting now is told to come back later, not refused or acknowledged.
    const newcomer = await SmtpWire.open(relay.port);
    const refusal = await newcomer.reply();
    expect(refusal.code).toBe(421);
    newcomer.close();

    // The message in DATA finishes within the grace and is acknowledged: it must not be lost.
    late.write(`${legacyMessage('during-stop').slice(40)}.\r\n`);
    const accepted = await late.reply();
    expect(accepted.code).toBe(250);
    late.close();

    // Exchange answers the held sends: they finish inside the bound.
    hold.release();
    // (b) the process ends by itself, with 0.
    const exit = await withinDeadline(relay.exit, 'the exit after SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(relay.linesWith('relay stopped')).toHaveLength(1);

    // (c) after a restart everything acknowledged arrives, each exactly once.
    const restarted = await fixture!.startRelay();
    const all = [...tags, 'during-stop'];
    await waitForAllDelivered(fixture!, all);
    expect(await withinDeadline(restarted.kill('SIGTERM'), 'the second stop')).toEqual({ code: 0, signal: null });
    expectCopies(upstream.messages, all);
    expect(upstream.messages).toHaveLength(all.length);
    expect(await fixture!.spoolFiles('failed')).toEqual([]);
    expect(await fixture!.spoolFiles('tmp')).toEqual([]);
  });

  it('SIGTERM with Exchange silent past the bound: the sends are abandoned, exit 0, and they go again after the restart', async () => {
    const { relay, hold, tags, inFlight } = await startWithSendsInFlight(1);
    const { upstream } = fixture!.tenant;

    relay.child.kill('SIGTERM');
    const exit = await withinDeadline(relay.exit, 'the exit after SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    hold.release();

    const restarted = await fixture!.startRelay();
    expect((await restarted.waitForLog((line) => line.msg === 'spool recovered')).queued).toBe(tags.length);
    await waitForAllDelivered(fixture!, tags);
    await restarted.kill('SIGTERM');
    // Abandoned sends had reached Exchange (its 250 never came): at least once, twice at most.
    expectCopies(upstream.messages, tags, inFlight);
    expect(await fixture!.spoolFiles('failed')).toEqual([]);
  });

  it('(d) a second signal while stopping exits at once with 1; after a restart nothing acknowledged is lost', async () => {
    const { relay, hold, tags, inFlight } = await startWithSendsInFlight(60);
    const { upstream } = fixture!.tenant;

    relay.child.kill('SIGTERM');
    await relay.waitForLog((line) => line.msg === 'relay stopping');
    relay.child.kill('SIGTERM');
    const exit = await withinDeadline(relay.exit, 'the exit after the second signal');
    expect(exit).toEqual({ code: 1, signal: null });
    hold.release();

    const restarted = await fixture!.startRelay();
    await waitForAllDelivered(fixture!, tags);
    await restarted.kill('SIGTERM');
    // Duplicates only for the sends that were in flight when the process ended.
    expectCopies(upstream.messages, tags, inFlight);
  });
});
