/**
 * `smtp-oauth-relay status [--json]` against the real daemon and the mock tenant: each overall
 * state with its text, its JSON (validated against the committed status.schema.json) and its
 * exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Needs `npm run build` first.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { MOCK_CLIENT_ID, MOCK_PUBLIC_CLIENT_ID, MOCK_TENANT_ID } from '../mock-tenant/index.js';
import { RELAY_CLI, RelayProcess, REPO_ROOT } from '../support/relay-process.js';
import { runProcess, type ProcessResult } from '../support/run-process.js';
import { FaultFixture, LegacyClient, RECIPIENT, SENDER, waitUntil } from './fault-fixture.js';

interface Report {
  status: string;
  exitCode: number;
  summary: string;
  daemon: { running: boolean; version?: string; listening?: { port: number } };
  accounts: Array<{ name: string; state: string; clientSecretDaysLeft?: number; lastDelivery?: { id: string }; delivery?: { state: string } }>;
  queue: { waiting: number; deferred: number; held: number; failed: number; oldestAgeSeconds?: number };
  problems: Array<{ level: string; text: string; nextStep?: string }>;
}

const schema = JSON.parse(await readFile(join(REPO_ROOT, 'status.schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ strict: false }).compile(schema);

function status(configFile: string, json: boolean): Promise<ProcessResult> {
  return runProcess(process.execPath, [RELAY_CLI, 'status', '--config', configFile, ...(json ? ['--json'] : [])], { timeoutMs: 30_000 });
}

/** Runs `status --json` and `status`, checks the JSON against the schema and both exit codes. */
async function statusOf(configFile: string): Promise<{ report: Report; text: string; code: number | null }> {
  const json = await status(configFile, true);
  const report = JSON.parse(json.stdout) as Report;
  expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  expect(json.code).toBe(report.exitCode);
  const text = await status(configFile, false);
  expect(text.code).toBe(report.exitCode);
  return { report, text: text.stdout, code: json.code };
}

const dayOffset = (days: number): string => new Date(Date.now() + days * 24 * 3600_000).toISOString().slice(0, 10);

describe('smtp-oauth-relay status', () => {
  let fixture: FaultFixture | undefined;
  let scratch: string | undefined;

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && fixture !== undefined) process.stdout.write(`${fixture.logs()}\n`);
    await fixture?.close();
    fixture = undefined;
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  it('all well: OK and exit 0, with the last delivery; daemon stopped afterwards: CRITICAL from disk', async () => {
    fixture = await FaultFixture.create();
    // All well includes no client secret written in the configuration (a standing warning).
    const relay = await fixture.startRelay({ accounts: fixture.accountsWithSecretFromEnvironment() });
    const client = await LegacyClient.connect(relay.port);
    const id = await client.send('status-ok');
    await client.quit();
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === id);

    const { report, text, code } = await statusOf(relay.configFile);
    expect(code).toBe(0);
    expect(report.status).toBe('ok');
    expect(report.daemon).toMatchObject({ running: true, listening: { port: relay.port } });
    expect(report.accounts[0]).toMatchObject({ name: 'sage', state: 'ok', lastDelivery: { id }, delivery: { state: 'active' } });
    expect(report.queue).toEqual({ waiting: 0, deferred: 0, held: 0, failed: 0 });
    expect(text.split('\n')[0]).toMatch(/^OK: relay \S+ running, 1 of 1 account ok, queue empty$/);
    expect(text).toContain('Account sage (');

    await relay.kill('SIGTERM');
    const down = await statusOf(relay.configFile);
    expect(down.code).toBe(2);
    expect(down.report.daemon.running).toBe(false);
    expect(down.report.accounts).toHaveLength(1);
    expect(down.text.split('\n')[0]).toMatch(/^CRITICAL: The relay is not running/);
  });

  it('a client secret expiring inside the warning threshold: WARNING and exit 1, with days left and the next step', async () => {
    fixture = await FaultFixture.create();
    const base = fixture.config();
    const account = base.accounts[0]!;
    const expiresOn = dayOffset(5);
    const relay = await fixture.startRelay({ accounts: [{ ...account, auth: { ...account.auth, clientSecretExpiresOn: expiresOn } as typeof account.auth }] });

    const { report, text, code } = await statusOf(relay.configFile);
    expect(code).toBe(1);
    expect(report.accounts[0]).toMatchObject({ state: 'warning' });
    expect(report.accounts[0]?.clientSecretDaysLeft).toBeGreaterThanOrEqual(4);
    expect(report.accounts[0]?.clientSecretDaysLeft).toBeLessThanOrEqual(5);
    expect(text.split('\n')[0]).toMatch(/^WARNING: sage: the client secret expires in [45] days/);
    expect(text).toMatch(new RegExp(`client secret expires +${expiresOn} \\([45] days left\\)`));
    expect(text).toContain('next step: create a new client secret in Entra');
  });

  it('an app-only account without a usable client secret: CRITICAL from the start, before any message', async () => {
    fixture = await FaultFixture.create();
    const base = fixture.config({ secrets: { keyStore: 'file' } });
    // No secret in the configuration and none stored with `secret set`: nothing could ever be sent.
    const config = {
      ...base,
      accounts: base.accounts.map((account) => ({ ...account, auth: { method: 'client-credentials' as const, tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID } })),
    };
    const relay = await RelayProcess.start({ config, dir: fixture.dir });
    try {
      await relay.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('account held'));
      const { report, code } = await statusOf(relay.configFile);
      expect(code).toBe(2);
      expect(report.accounts[0]).toMatchObject({ state: 'admin-action-required', delivery: { state: 'held-for-admin' } });
      expect(report.problems[0]?.nextStep).toContain('secret set --account');
    } finally {
      await relay.kill('SIGTERM');
    }
  });

  it('a delegated account that never signed in: CRITICAL and exit 2, with the login step', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay({
      accounts: [{ name: 'scan', mailbox: SENDER, auth: { method: 'delegated', tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID } }],
      secrets: { keyStore: 'file' },
    });

    const { report, text, code } = await statusOf(relay.configFile);
    expect(code).toBe(2);
    expect(report.accounts[0]).toMatchObject({ name: 'scan', state: 'sign-in-required', delivery: { state: 'held-for-sign-in' } });
    expect(report.problems[0]).toMatchObject({ level: 'critical' });
    expect(text.split('\n')[0]).toMatch(/^CRITICAL: scan: has never signed in/);
    expect(text).toContain('next step: run `smtp-oauth-relay login --account scan`');
  });

  it('a message deferred for more than an hour (Exchange down): CRITICAL and exit 2', async () => {
    fixture = await FaultFixture.create();
    await fixture.tenant.upstream.down();
    // A message the relay accepted two hours ago, as a previous run would have left it.
    const queue = join(fixture.dataDir, 'spool', 'queue');
    await mkdir(queue, { recursive: true, mode: 0o700 });
    const id = 'statusold1';
    const receivedAt = new Date(Date.now() - 2 * 3600_000).toISOString();
    const eml = `From: <${SENDER}>\r\nTo: <${RECIPIENT}>\r\nSubject: old\r\n\r\nold\r\n`;
    await writeFile(join(queue, `${id}.eml`), eml);
    const record = {
      version: 1,
      id,
      kind: 'message',
      account: 'sage',
      receivedAt,
      client: { address: '127.0.0.1' },
      mailFrom: SENDER,
      size: Buffer.byteLength(eml),
      recipients: [{ address: RECIPIENT, status: 'pending' }],
      attempts: 0,
      nextAttemptAt: receivedAt,
    };
    await writeFile(join(queue, `${id}.json`), JSON.stringify(record));
    const relay = await fixture.startRelay();
    await relay.waitForLog((line) => line.msg === 'delivery deferred' && line.id === id);
    await waitUntil('the attempt recorded on disk', async () => (JSON.parse(await readFile(join(queue, `${id}.json`), 'utf8')) as { attempts: number }).attempts > 0);

    const { report, text, code } = await statusOf(relay.configFile);
    expect(code).toBe(2);
    expect(report.queue).toMatchObject({ waiting: 0, deferred: 1, held: 0, failed: 0 });
    expect(report.queue.oldestAgeSeconds).toBeGreaterThanOrEqual(2 * 3600);
    expect(text.split('\n')[0]).toMatch(/^CRITICAL: 1 message has waited more than an hour/);
    expect(text).toContain('Queue: 0 waiting, 1 deferred, 0 held, 0 failed, oldest 2 h');
  });

  it('no daemon and no readable state: UNKNOWN and exit 3; an unreadable configuration too', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'relay-status-'));
    const configFile = join(scratch, 'relay.json');
    const config = {
      dataDir: join(scratch, 'does-not-exist'),
      accounts: [{ name: 'sage', mailbox: SENDER, auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecret: 's' } }],
    };
    await writeFile(configFile, JSON.stringify(config));
    const { report, text, code } = await statusOf(configFile);
    expect(code).toBe(3);
    expect(report.status).toBe('unknown');
    expect(text.split('\n')[0]).toMatch(/^UNKNOWN: .*does-not-exist/);

    const missing = await status(join(scratch, 'nope.json'), false);
    expect(missing.code).toBe(3);
    expect(missing.stdout.split('\n')[0]).toMatch(/^UNKNOWN: .*configuration cannot be read/);
  });
});
