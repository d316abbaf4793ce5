/**
 * Exchange Online misbehaving while the real relay process runs (docs/exchange-replies.md; docs/architecture.md, "Replies are classified once, by a table"):
 *  (1) unreachable for a while: messages are still accepted, then all delivered, none bounced;
 *  (2) throttling (432 4.3.2 for the submission rate and for a 4th connection): all delivered,
 *      nothing bounced, and the relay keeps its own pace and connection limit;
 *  (3) 5.7.60 SendAsDenied: the message goes to failed/ and its sender gets an RFC 3464 DSN;
 *  (4) 535 5.7.139 / 5.7.3 at AUTH: the account is held, nothing is lost or bounced, and the
 *      messages go once the sign-in works again.
 * Needs `npm run build` first (npm test does it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EXCHANGE_REPLIES, MOCK_MAILBOX, type ReceivedMessage, type ScriptPhase, type SmtpReply } from '../mock-tenant/index.js';
import { RELAY_CLI, type RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { busiestWindow, FaultFixture, LegacyClient, messageIdFor, messageIdOf, sendBatch, SENDER, waitUntil } from './fault-fixture.js';

/** App-only: whatever refuses its credentials, an administrator fixes (src/delivery/account-events.ts). */
const HELD = 'account held: an administrator must act before anything is sent; messages stay queued';
const PROBE = 'held account: trying one message to see whether sign-in works again';

const isDsn = (message: ReceivedMessage): boolean => /multipart\/report/i.test(message.raw.toString('latin1'));

function tagsFor(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, n) => `${prefix}-${String(n + 1).padStart(2, '0')}`);
}

/** Every queue id logged as delivered by this relay process. */
function deliveredIds(relay: RelayProcess): Set<unknown> {
  return new Set(relay.linesWith('message delivered').map((line) => line.id));
}

describe('upstream outages and refusals', () => {
  let fixture: FaultFixture | undefined;

  afterEach(async ({ task }) => {
    // The relay's own account of what happened is the quickest way to see why a test failed.
    if (task.result?.state === 'fail' && fixture !== undefined) process.stdout.write(`${fixture.logs()}\n`);
    await fixture?.close();
    fixture = undefined;
  });

  it('(1) Exchange down: messages are accepted meanwhile and all delivered once it is back, none bounced', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    await upstream.down();
    // An outage becomes a WARNING after upstreamOutageWarningMinutes (here 3 s).
    const relay = await fixture.startRelay({ delivery: { upstreamOutageWarningMinutes: 0.05 } });

    const tags = tagsFor('outage', 5);
    // LegacyClient.send fails unless the reply is 250.
    const ids = [...(await sendBatch(relay.port, tags, 1)).values()];
    // The account waits for Microsoft 365 between tries instead of burning every message's attempts.
    await relay.waitForLog((line) => line.state === 'waiting-for-upstream' && line.condition === 'network-error');
    const waiting = await fixture.queueList(relay);
    expect(waiting.map((entry) => entry.id).sort()).toEqual([...ids].sort());
    expect(waiting.some((entry) => entry.attempts >= 1)).toBe(true);
    type Report = { status: string; problems: Array<{ text: string }> };
    const statusNow = async (): Promise<Report> =>
      JSON.parse((await runProcess(process.execPath, [RELAY_CLI, 'status', '--config', relay.configFile, '--json'], { timeoutMs: 30_000 })).stdout) as Report;
    let report = await statusNow();
    // The fixture's inline client secret is a standing warning of its own: wait for the outage's.
    const outageSaid = (r: Report) => r.problems.some((problem) => problem.text.includes('Microsoft 365 cannot be reached'));
    await waitUntil('status WARNING for the outage', async () => (report = await statusNow()).status === 'warning' && outageSaid(report));
    expect(report.problems.some((problem) => problem.text.includes('Microsoft 365 cannot be reached'))).toBe(true);
    expect(report.problems.some((problem) => /throttl/i.test(problem.text))).toBe(false);

    await upstream.up();
    await waitUntil('every message delivered', () => ids.every((id) => deliveredIds(relay).has(id)));
    expect(upstream.messages.map(messageIdOf).sort()).toEqual(tags.map(messageIdFor));
    expect(upstream.messages.some(isDsn)).toBe(false);
    expect(await fixture.queueList(relay)).toEqual([]);
    expect(await fixture.queueList(relay, true)).toEqual([]);
  });

  it('(1b) identity provider down: status says Entra cannot be reached (never throttling), a WARNING within the configured minutes; all goes once it is back', async () => {
    fixture = await FaultFixture.create();
    const { upstream, identity } = fixture.tenant;
    await identity.down();
    const relay = await fixture.startRelay({ delivery: { upstreamOutageWarningMinutes: 0.05 } });
    const tags = tagsFor('idp-down', 2);
    const ids = [...(await sendBatch(relay.port, tags, 1)).values()];
    await relay.waitForLog((line) => line.state === 'waiting-for-identity-provider' && line.condition === 'identity-provider-unreachable');

    type Report = { status: string; accounts: Array<{ delivery?: { state: string; doing?: string } }>; problems: Array<{ text: string }> };
    const statusNow = async (): Promise<Report> =>
      JSON.parse((await runProcess(process.execPath, [RELAY_CLI, 'status', '--config', relay.configFile, '--json'], { timeoutMs: 30_000 })).stdout) as Report;
    let report = await statusNow();
    const entraSaid = (r: Report) => r.problems.some((problem) => problem.text.includes('identity provider (Microsoft Entra) cannot be reached'));
    await waitUntil('status WARNING for the identity provider', async () => (report = await statusNow()).status === 'warning' && entraSaid(report));
    expect(report.accounts[0]?.delivery).toMatchObject({ state: 'waiting-for-identity-provider', doing: expect.stringContaining('identity provider (Microsoft Entra) cannot be reached') });
    expect(report.problems.some((problem) => problem.text.includes('identity provider (Microsoft Entra) cannot be reached'))).toBe(true);
    expect(JSON.stringify(report)).not.toMatch(/throttl/i);
    // Waiting for a token burns no attempt.
    expect((await fixture.queueList(relay)).map((entry) => entry.attempts)).toEqual([0, 0]);

    await identity.up();
    await waitUntil('every message delivered', () => ids.every((id) => deliveredIds(relay).has(id)));
    expect(upstream.messages.map(messageIdOf).sort()).toEqual(tags.map(messageIdFor));
  });

  it('(2a) submission rate throttled (432 4.3.2): all delivered, no DSN, and the relay keeps its own pace and connection limit', async () => {
    // Exchange here allows 8 messages in any 8 s: bursts of 8, but on average slower than the relay's 5 per 3 s.
    const exchangeRate = { messages: 8, perSeconds: 8 };
    const relayRate = { messages: 5, perSeconds: 3 };
    const maxConnections = 2;
    fixture = await FaultFixture.create({ rate: exchangeRate });
    const { upstream } = fixture.tenant;
    const relay = await fixture.startRelay({
      accounts: fixture.config().accounts.map((account) => ({ ...account, maxConnections, rate: relayRate })),
    });

    // One message first, so the batch does not include the first token request and TLS set-up:
    // a slow first delivery would squeeze the later ones together in upstream time.
    const warmUp = await LegacyClient.connect(relay.port);
    await warmUp.send('rate-00');
    await warmUp.quit();
    await upstream.waitForMessages(1, 30_000);

    const tags = tagsFor('rate', 11);
    const ids = [...(await sendBatch(relay.port, tags, 3)).values()];
    await waitUntil('every message delivered', () => ids.every((id) => deliveredIds(relay).has(id)), 90_000);

    // The relay really met Exchange's throttling, and paused instead of failing.
    expect(upstream.rateRefusals).toBeGreaterThan(0);
    expect(relay.linesWith('account paused').length).toBeGreaterThan(0);
    expect(upstream.messages).toHaveLength(tags.length + 1);
    expect(upstream.messages.some(isDsn)).toBe(false);
    expect(await fixture.queueList(relay, true)).toEqual([]);
    expect(relay.linesWith('message refused permanently')).toEqual([]);
    // Its own pace: the relay counts a message when it starts it, Exchange when it accepts it;
    // a window 1 s shorter than the relay's absorbs the difference (a lower-bound check).
    expect(busiestWindow(upstream.acceptedAt(MOCK_MAILBOX), relayRate.perSeconds * 1000 - 1000)).toBeLessThanOrEqual(relayRate.messages);
    // Exchange would have allowed 3 connections; the relay was configured for 2.
    expect(upstream.maxConcurrency(MOCK_MAILBOX)).toBeLessThanOrEqual(maxConnections);
    expect(upstream.concurrencyRefusals).toBe(0);
  });

  it('(2b) concurrent connections refused (432 4.3.2 at AUTH): all delivered, no DSN, nothing failed', async () => {
    // This mailbox gets fewer connections than the relay is configured for, so the relay meets the refusal.
    fixture = await FaultFixture.create({ maxConnectionsPerMailbox: 1 });
    const { upstream } = fixture.tenant;
    const relay = await fixture.startRelay({
      accounts: fixture.config().accounts.map((account) => ({ ...account, maxConnections: 3, rate: { messages: 100, perSeconds: 1 } })),
    });

    const tags = tagsFor('conn', 6);
    const ids = [...(await sendBatch(relay.port, tags, 3)).values()];
    await waitUntil('every message delivered', () => ids.every((id) => deliveredIds(relay).has(id)), 90_000);

    expect(upstream.concurrencyRefusals).toBeGreaterThan(0);
    expect(relay.linesWith('account paused').some((line) => String(line.reason).includes('Concurrent connections limit exceeded'))).toBe(true);
    expect(upstream.maxConcurrency(MOCK_MAILBOX)).toBe(1);
    expect(upstream.messages.map(messageIdOf).sort()).toEqual(tags.map(messageIdFor));
    expect(upstream.messages.some(isDsn)).toBe(false);
    expect(await fixture.queueList(relay, true)).toEqual([]);
  });

  it.each<ScriptPhase>(['mail', 'data'])('(3) 5.7.60 SendAsDenied at %s: the message goes to failed/ and its sender gets a DSN', async (phase) => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    // Only the original is refused: the DSN goes from the account's own mailbox.
    upstream.script({ phase, reply: EXCHANGE_REPLIES.sendAsDenied, times: Infinity, match: (context) => context.mailFrom === SENDER });
    const relay = await fixture.startRelay();

    const client = await LegacyClient.connect(relay.port);
    const id = await client.send(`denied-${phase}`);
    await client.quit();

    const queued = await relay.waitForLog((line) => line.msg === 'delivery status notification queued' && line.id === id);
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === queued.dsn);

    const failed = await fixture.queueList(relay, true);
    expect(failed.map((entry) => entry.id)).toEqual([id]);
    expect(failed[0]?.recipients.map((recipient) => recipient.status)).toEqual(['failed']);
    expect(await fixture.queueList(relay)).toEqual([]);

    // Only the DSN arrived: from the account's mailbox, to the original envelope sender.
    expect(upstream.messages).toHaveLength(1);
    const [dsn] = upstream.messages as [ReceivedMessage];
    expect({ mailbox: dsn.mailbox, mailFrom: dsn.mailFrom, rcptTo: dsn.rcptTo }).toEqual({ mailbox: MOCK_MAILBOX, mailFrom: MOCK_MAILBOX, rcptTo: [SENDER] });
    const text = dsn.raw.toString('utf8');
    expect(text).toMatch(/^Content-Type: multipart\/report; report-type=delivery-status;/m);
    expect(text).toMatch(/^Content-Type: message\/delivery-status/m);
    expect(text).toMatch(/^Action: failed$/m);
    expect(text).toMatch(/^Status: 5\.7\.60$/m);
    // The original's headers come back so the sender can tell which message failed.
    expect(text).toContain(messageIdFor(`denied-${phase}`));
  });

  it.each<[string, SmtpReply]>([
    ['535 5.7.139 (SMTP AUTH disabled)', EXCHANGE_REPLIES.smtpAuthDisabledForMailbox],
    ['535 5.7.3 (token refused)', EXCHANGE_REPLIES.authenticationUnsuccessful],
  ])('(4) %s: the account is held, nothing lost or bounced, and all goes once sign-in works again', async (_name, reply) => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    let authAttempts = 0;
    upstream.script({
      phase: 'auth',
      reply,
      times: Infinity,
      match: () => {
        authAttempts += 1;
        return true;
      },
    });
    const maxConnections = 3;
    const relay = await fixture.startRelay();

    const tags = tagsFor('held', 3);
    const ids = [...(await sendBatch(relay.port, tags, 1)).values()];
    const held = await relay.waitForLog((line) => line.msg === HELD);
    expect(String(held.reason)).toContain(reply.text.slice(0, reply.text.indexOf(' ')));
    // At least one probe after the hold began, and it failed too (the account is still held).
    await waitUntil('two probes', () => relay.linesWith(PROBE).length >= 2);

    const waiting = await fixture.queueList(relay);
    expect(waiting.map((entry) => entry.id).sort()).toEqual([...ids].sort());
    // Holding burns no attempts: the messages keep their whole retry schedule.
    expect(waiting.map((entry) => entry.attempts)).toEqual([0, 0, 0]);
    expect(waiting.flatMap((entry) => entry.recipients.map((recipient) => recipient.status))).toEqual(['pending', 'pending', 'pending']);
    expect(await fixture.queueList(relay, true)).toEqual([]);
    expect(upstream.messages).toEqual([]);
    expect(relay.linesWith('delivery status notification queued')).toEqual([]);
    // Only the first sends and one probe at a time knocked (each may retry once with a new token).
    const probes = relay.linesWith(PROBE).length;
    expect(authAttempts).toBeGreaterThan(0);
    expect(authAttempts).toBeLessThanOrEqual(2 * (maxConnections + probes + 1));

    // "The token works again": the next probe goes through and lifts the hold.
    upstream.clearScripts();
    await relay.waitForLog((line) => line.msg === 'sign-in works again; hold lifted');
    await waitUntil('every message delivered', () => ids.every((id) => deliveredIds(relay).has(id)));
    expect(upstream.messages.map(messageIdOf).sort()).toEqual(tags.map(messageIdFor));
    expect(upstream.messages.some(isDsn)).toBe(false);
    expect(await fixture.queueList(relay)).toEqual([]);
    expect(await fixture.queueList(relay, true)).toEqual([]);
  });

  it('(4b) a hold ends when AUTH works again, even if the probe message itself is deferred after AUTH', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    const stuckReply = { code: 451, text: '4.3.0 Temporary server error. Please try again later' };
    const mailboxIsStuck = { phase: 'mail' as const, reply: stuckReply, times: Infinity, match: (context: { mailFrom: string | undefined }) => context.mailFrom === MOCK_MAILBOX };
    upstream.script({ phase: 'auth', reply: EXCHANGE_REPLIES.smtpAuthDisabledForMailbox, times: Infinity });
    upstream.script(mailboxIsStuck);
    const relay = await fixture.startRelay();

    // The oldest message (the probe) is one that Exchange keeps deferring at MAIL FROM.
    const client = await LegacyClient.connect(relay.port);
    const stuck = await client.send('stuck', MOCK_MAILBOX);
    const others = [await client.send('other-1'), await client.send('other-2')];
    await client.quit();
    await relay.waitForLog((line) => line.msg === HELD);

    // SMTP AUTH enabled again; the oldest message still meets its own temporary refusal.
    upstream.clearScripts();
    upstream.script(mailboxIsStuck);
    await relay.waitForLog((line) => line.msg === 'sign-in works again; hold lifted');
    await waitUntil('the other messages delivered', () => others.every((id) => deliveredIds(relay).has(id)));
    expect(upstream.messages.map(messageIdOf).sort()).toEqual([messageIdFor('other-1'), messageIdFor('other-2')]);
    // The deferred one waits for its next retry, as any deferred message does; nothing bounced.
    expect((await fixture.queueList(relay)).map((entry) => entry.id)).toEqual([stuck]);
    expect(relay.linesWith('delivery status notification queued')).toEqual([]);
  });

  it('(4c) a held account probes once per holdRetrySeconds, also when a probe fails for another reason (Exchange unreachable)', async () => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    upstream.script({ phase: 'auth', reply: EXCHANGE_REPLIES.smtpAuthDisabledForTenant, times: Infinity });
    const relay = await fixture.startRelay();

    const [id] = [...(await sendBatch(relay.port, ['unreachable-01'], 1)).values()];
    await relay.waitForLog((line) => line.msg === HELD);
    // Now the probes meet a refused connection instead of 535: they must not follow each other at once.
    await upstream.down();
    await waitUntil('three probes', () => relay.linesWith(PROBE).length >= 3);
    const probeTimes = relay.linesWith(PROBE).map((line) => Date.parse(String(line.time)));
    const gaps = probeTimes.slice(1).map((at, n) => at - (probeTimes[n] ?? 0));
    // holdRetrySeconds is 1: a lower bound (timers never fire early), with 50 ms for log timestamps.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(950);
    // Nothing was bounced or dropped meanwhile.
    expect((await fixture.queueList(relay)).map((entry) => entry.id)).toEqual([id]);
    expect(await fixture.queueList(relay, true)).toEqual([]);

    upstream.clearScripts();
    await upstream.up();
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === id);
    expect(upstream.messages.map(messageIdOf)).toEqual([messageIdFor('unreachable-01')]);
  });
});
