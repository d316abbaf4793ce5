/**
 * The release's smtp-oauth-relay.exe (npm run release) under Wine, end to end: the single
 * executable starts, checks its configuration, serves SMTP to a Linux client and delivers to the
 * mock tenant on Linux (trusting the mock CA through upstream.caFile and identity.caFile),
 * answers status, queue list and secret set over its named pipe, keeps its key in Wine's
 * Credential Manager across a restart, and stops gracefully on CTRL_C (kill -INT) without
 * losing an acknowledged message.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_CLIENT_ID, MOCK_MAILBOX, MOCK_SEND_AS, MOCK_TENANT_ID, startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { requireToolUnderCi } from '../support/system-tool.js';
import { LegacyClient } from '../e2e/fault-fixture.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { driveC, RELEASE_EXE, REPO_ROOT, runWine, WineProcess, windowsPath, wineTools, type WineResult } from './wine.js';

const tools = wineTools();
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The product folder, as the MSI creates it: the exe then unpacks its addons under bin\. */
const PRODUCT_DIR = 'C:\\ProgramData\\smtp-oauth-relay';
const CONFIG = `${PRODUCT_DIR}\\relay.json`;

const subjects = (tenant: MockTenant): string[] =>
  tenant.upstream.messages.map((message) => /^Subject: (.*)$/im.exec(message.raw.toString('utf8'))?.[1] ?? '');

async function relayCommand(args: readonly string[], input?: string): Promise<WineResult> {
  return runWine(RELEASE_EXE, [...args, '--config', CONFIG], input === undefined ? {} : { input });
}

describe.runIf(tools.available)('smtp-oauth-relay.exe under Wine', () => {
  let tenant: MockTenant;
  let relay: WineProcess | undefined;

  async function startRelay(): Promise<{ relay: WineProcess; port: number }> {
    const started = WineProcess.start(RELEASE_EXE, ['serve', '--config', CONFIG]);
    relay = started;
    const line = await started.waitForLine((entry) => entry.msg === 'relay started', 120_000);
    return { relay: started, port: Number(String(line.smtp).split(':').pop()) };
  }

  beforeAll(async () => {
    if (!existsSync(RELEASE_EXE)) throw new Error(`${RELEASE_EXE} is missing: run "npm run release" first`);
    tenant = await startMockTenant();
    mkdirSync(driveC('ProgramData/smtp-oauth-relay'), { recursive: true });
    const caFile = windowsPath(tenant.caFile);
    const config = tenant.relayConfig(`${PRODUCT_DIR}\\data`, {
      listen: { port: 0 },
      // No secret in the file: `secret set` gives it to the running relay, which seals it
      // under a key kept in Credential Manager.
      accounts: [{ name: 'sage', mailbox: MOCK_MAILBOX, sendAs: [MOCK_SEND_AS], auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID } }],
      upstream: { caFile },
      identity: { caFile },
      delivery: { retryDelaysSeconds: [1], throttleBackoffSeconds: [1], holdRetrySeconds: 1 },
    });
    writeFileSync(driveC('ProgramData/smtp-oauth-relay/relay.json'), JSON.stringify(config, null, 2));
  });

  afterAll(async () => {
    await relay?.kill();
    await tenant?.close();
  });

  it('--version starts cold, prints the version, and unpacks its addon into the product folder', async () => {
    const cold = await runWine(RELEASE_EXE, ['--version']);
    const warm = await runWine(RELEASE_EXE, ['--version']);
    console.log(`smtp-oauth-relay.exe --version under Wine: cold ${Math.round(cold.elapsedMs)} ms, warm ${Math.round(warm.elapsedMs)} ms`);
    expect(cold).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    // No SEA warning about require() (the bundle never requires a file).
    expect(cold.stderr).toBe('');
    const bin = driveC('ProgramData/smtp-oauth-relay/bin');
    const [release] = readdirSync(bin);
    expect(release).toMatch(new RegExp(`^${VERSION.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
    expect(readdirSync(join(bin, release ?? ''))).toEqual(expect.arrayContaining(['keyring.win32-x64-msvc.node', 'package.json', 'service']));
  });

  it('config check accepts the configuration', async () => {
    const result = await relayCommand(['config', 'check']);
    expect(result.code, result.stderr).toBe(0);
  });

  it('serves a Linux client, holds the account until secret set over the pipe, then delivers', async () => {
    const { relay: running, port } = await startRelay();
    const client = await LegacyClient.connect(port);
    await client.send('held-until-secret');
    await client.quit();
    await running.waitForLine((line) => String(line.msg).startsWith('account held'));
    expect(tenant.upstream.messages).toHaveLength(0);

    const stored = await relayCommand(['secret', 'set', '--account', 'sage'], `${tenant.clientSecret}\n`);
    expect(stored.code, stored.stderr).toBe(0);
    expect(stored.stdout).toContain("running relay's key store");
    await tenant.upstream.waitForMessages(1, 60_000);
    expect(subjects(tenant)).toEqual(['Invoice held-until-secret']);
  });

  it('answers status and queue list over the named pipe', async () => {
    const status = await relayCommand(['status', '--json']);
    // The exit code is the monitoring level (0 OK, 1 WARNING): either is an answer from the relay.
    expect([0, 1], status.stderr).toContain(status.code);
    expect(JSON.parse(status.stdout)).toMatchObject({ daemon: { running: true, version: VERSION }, accounts: [{ name: 'sage' }] });
    const queue = await relayCommand(['queue', 'list', '--json']);
    expect(queue.code, queue.stderr).toBe(0);
    expect(JSON.parse(queue.stdout)).toEqual([]);
  });

  it('reaches the same relay when the data folder is spelled in another case, with a trailing separator', async () => {
    // Windows paths are case-insensitive: c:\programdata\... and C:\PROGRAMDATA\...\ are one folder.
    const config = JSON.parse(readFileSync(driveC('ProgramData/smtp-oauth-relay/relay.json'), 'utf8')) as { dataDir: string };
    const otherSpelling = { ...config, dataDir: `${config.dataDir.toLowerCase()}\\` };
    writeFileSync(driveC('ProgramData/smtp-oauth-relay/other-spelling.json'), JSON.stringify(otherSpelling, null, 2));
    const status = await runWine(RELEASE_EXE, ['status', '--json', '--config', `${PRODUCT_DIR.toUpperCase()}\\OTHER-SPELLING.JSON`]);
    expect([0, 1], status.stderr).toContain(status.code);
    expect(JSON.parse(status.stdout)).toMatchObject({ daemon: { running: true, version: VERSION }, accounts: [{ name: 'sage' }] });
  });

  it('stops gracefully on CTRL_C with a send in flight and, restarted, finds its key in Credential Manager: nothing lost', async () => {
    const running = relay!;
    const firstPort = Number(String(running.jsonLines.find((line) => line.msg === 'relay started')?.smtp).split(':').pop());
    // Exchange stores the message but holds its 250: the send is in flight when the stop comes.
    const hold = tenant.upstream.holdDataReplies();
    const client = await LegacyClient.connect(firstPort);
    await client.send('in-flight-at-stop');
    await client.quit();
    await hold.waitForHeld(1, 60_000);

    running.interrupt(); // CTRL_C_EVENT
    await running.waitForLine((line) => line.msg === 'relay stopping');
    // A program connecting now is told to come back later.
    const newcomer = await SmtpWire.open(firstPort);
    expect((await newcomer.reply()).code).toBe(421);
    newcomer.close();
    hold.release();
    expect(await running.exit).toBe(0);
    expect(running.jsonLines.some((line) => line.msg === 'relay stopped')).toBe(true);

    const { relay: restarted, port } = await startRelay();
    const second = await LegacyClient.connect(port);
    await second.send('after-restart');
    await second.quit();
    await tenant.upstream.waitForMessages(3, 60_000);
    // The send in flight finished inside the stop's bound: delivered exactly once.
    expect(subjects(tenant).sort()).toEqual(['Invoice after-restart', 'Invoice held-until-secret', 'Invoice in-flight-at-stop']);
    // The key came from Credential Manager: the restarted relay never held the account.
    expect(restarted.jsonLines.some((line) => String(line.msg).startsWith('account held'))).toBe(false);
    const queue = await relayCommand(['queue', 'list', '--json']);
    expect(queue.code, queue.stderr).toBe(0);
    expect(JSON.parse(queue.stdout)).toEqual([]);
    restarted.interrupt();
    expect(await restarted.exit).toBe(0);
  });
});

// Without Wine the tests above skip, and this says why (or fails, under CI=true).
requireToolUnderCi(tools);
