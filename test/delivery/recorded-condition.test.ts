/**
 * The condition a reply was classified as when it came is stored in the queue record, survives a
 * restart (the real spool on disk), and is what metrics, the DSN and status read afterwards:
 * nothing classifies the reply a second time. To prove it, the stored reply TEXT is made generic
 * on disk between the two runs ("550 Requested action not taken" would classify as "permanent");
 * everything downstream still says "recipient-not-found", the condition that was recorded.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conditionById } from '../../src/core/conditions/index.js';
import { configSchema, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { readMessage } from '../../src/core/message-file.js';
import type { QueueRecord } from '../../src/core/queue-record.js';
import type { MessageSender, SendResult } from '../../src/delivery/message-sender.js';
import { DeliveryScheduler } from '../../src/delivery/scheduler.js';
import { RelayMetrics } from '../../src/health/metrics.js';
import { buildStatusReport } from '../../src/health/status-report.js';
import { Spool } from '../../src/queue/spool.js';
import { ManualClock } from '../support/manual-clock.js';

const EML = Buffer.from('From: invoices@contoso.example\r\nTo: gone@fabrikam.example, later@fabrikam.example\r\nSubject: Invoice 42\r\nMessage-ID: <inv42@contoso.example>\r\n\r\nbody\r\n');
const RECORDED = conditionById('recipient-not-found');

class Upstream implements MessageSender {
  readonly sent: QueueRecord[] = [];
  constructor(private readonly answer: (recipients: string[]) => SendResult) {}
  async send(record: QueueRecord, recipients: string[]): Promise<SendResult> {
    this.sent.push(record);
    return this.answer(recipients);
  }
  close(): void {}
}

describe('the recorded condition', () => {
  let dir: string;
  let clock: ManualClock;
  let config: Config;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recorded-'));
    clock = new ManualClock();
    config = configSchema.parse({
      dataDir: dir,
      accounts: [{ name: 'sage', mailbox: 'sage@contoso.example', auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecretEnv: 'S' } }],
      delivery: { retryDelaysSeconds: [60] },
    });
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function run(records: readonly QueueRecord[], spool: Spool, upstream: MessageSender, metrics?: RelayMetrics): Promise<DeliveryScheduler> {
    const scheduler = new DeliveryScheduler({
      config,
      store: spool,
      transportFor: () => upstream,
      clock,
      logger: silentLogger(),
      reportingHost: 'relay.test',
      ...(metrics === undefined ? {} : { observer: metrics.deliveryObserver() }),
    });
    scheduler.start(records);
    await clock.advance(0);
    await scheduler.idle();
    await clock.advance(0);
    return scheduler;
  }

  it('survives a restart and drives metrics, the DSN and status', async () => {
    expect(RECORDED).toBeDefined();
    const first = await Spool.open(dir, { logger: silentLogger(), clock });
    const record = await first.spool.enqueueBuffer(EML, {
      kind: 'message',
      account: 'sage',
      client: { address: '127.0.0.1' },
      mailFrom: 'invoices@contoso.example',
      recipients: ['gone@fabrikam.example', 'later@fabrikam.example'],
    });
    // Run 1: one recipient does not exist, the other is deferred.
    const before = await run([record], first.spool, new Upstream(() => ({
      kind: 'rejected',
      rejected: [
        { address: 'gone@fabrikam.example', reply: { code: 550, text: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', errorCode: 'EENVELOPE' } },
        { address: 'later@fabrikam.example', reply: { code: 451, text: '451 4.3.0 Temporary server error', errorCode: 'EENVELOPE' } },
      ],
    })));
    await before.stop(0);
    await first.spool.close();

    // On disk: the condition beside the reply. Make the text generic, keep the condition.
    const queueDir = join(dir, 'spool', 'queue');
    const file = join(queueDir, (await readdir(queueDir)).find((name) => name.endsWith('.json')) ?? '');
    const stored = JSON.parse(await readFile(file, 'utf8')) as QueueRecord;
    expect(stored.recipients[0]?.lastReply).toMatchObject({ condition: 'recipient-not-found', errorCode: 'EENVELOPE' });
    expect(stored.lastReply).toMatchObject({ condition: 'transient' });
    stored.recipients[0]!.lastReply!.text = '550 Requested action not taken';
    await writeFile(file, JSON.stringify(stored));

    // Run 2, a new process: the deferred recipient goes through; the message is finished.
    const second = await Spool.open(dir, { logger: silentLogger(), clock });
    expect(second.records[0]?.recipients[0]?.lastReply?.condition).toBe('recipient-not-found');
    const metrics = new RelayMetrics({ accounts: ['sage'], clock, defaultMetrics: false });
    await clock.advance(60_000);
    // The DSN is sent too; keep its text as it goes.
    const dsns: string[] = [];
    const upstream = new Upstream((recipients) => ({ kind: 'sent', response: '250 2.6.0 Queued', accepted: recipients, rejected: [] }));
    const sendOne = upstream.send.bind(upstream);
    upstream.send = async (queued, recipients) => {
      if (queued.kind === 'dsn') dsns.push((await readMessage(second.spool.messageFile(queued))).toString('utf8'));
      return sendOne(queued, recipients);
    };
    const after = await run(second.records, second.spool, upstream, metrics);

    // Metrics: the failure is counted under the recorded condition.
    expect(await metrics.registry.metrics()).toMatch(/smtp_relay_messages_failed_total\{account="sage",reason="recipient-not-found"\} 1/);
    // The DSN explains it with the recorded condition's sentence.
    expect(dsns).toHaveLength(1);
    expect(dsns[0]?.replace(/\r\n\s+/g, ' ')).toContain(RECORDED?.meaning);
    // Status: the account's last error carries the condition and its meaning.
    const snapshot = after.snapshot();
    expect(snapshot.accounts[0]?.lastError).toMatchObject({ condition: 'recipient-not-found', text: '550 Requested action not taken' });
    const report = buildStatusReport({
      now: clock.now(),
      config,
      daemon: { version: 't', pid: 1, startedAt: new Date(clock.now()).toISOString(), uptimeSeconds: 1, smtp: { host: '127.0.0.1', port: 25 }, delivery: snapshot, warnings: [] },
      signInStates: [],
      queued: [],
      failed: [],
    });
    expect(report.accounts[0]?.lastError).toMatchObject({ condition: 'recipient-not-found', meaning: RECORDED?.meaning });
    await after.stop(0);
    await second.spool.close();
  });
});
