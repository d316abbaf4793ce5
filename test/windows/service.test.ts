/**
 * The Windows service for real, under Wine's Service Control Manager (docs/windows-service.md):
 * the service host built with mingw-w64 (or RELEASE_DIR's), installed by the real ScManager whose
 * sc.exe / reg.exe / net.exe commands run under Wine, the relay as its child (RELEASE_DIR's
 * smtp-oauth-relay.exe, else the Windows node.exe running dist/cli/main.js) against the mock
 * tenant on 127.0.0.1:
 *  - install: registered with the host as binPath and the virtual account, RUNNING once the relay listens;
 *  - a message from a Linux SMTP client is delivered; a relay warning reaches the Event Log;
 *  - net stop: the host closes the relay's stdin, the relay stops gracefully, a send in flight
 *    stays queued and is delivered after the next start: nothing lost;
 *  - the relay crashes: the host reports it to the Event Log and starts it again;
 *  - a wrong configuration: STOPPED with service exit code 78 and the reason in the Event Log;
 *  - uninstall: the service is gone, the data folder and its queue stay.
 * Skips without wine and mingw-w64 (fails under CI=true). Needs `npm run build` first.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScManager, type ServicePlan } from '../../src/service/index.js';
import { LegacyClient, messageIdFor, messageIdOf } from '../e2e/fault-fixture.js';
import { MOCK_MAILBOXES, MOCK_PUBLIC_CLIENT_ID, MOCK_TENANT_ID, startMockTenant, type MockTenant, type RelayConfigInput } from '../mock-tenant/index.js';
import { RELAY_CLI, REPO_ROOT } from '../support/relay-process.js';
import { requireToolUnderCi } from '../support/system-tool.js';
import {
  eventually,
  freePort,
  installWin32KeyringBinding,
  jsonLines,
  releaseDir,
  serviceHostExe,
  WineCommandRunner,
  WinePrefix,
  winPath,
  windowsNode,
  wineTools,
} from './wine-service-support.js';

const tools = wineTools();
const STEP_TIMEOUT = 240_000;

describe.runIf(tools.available)('the Windows service under Wine', () => {
  const id = randomBytes(4).toString('hex');
  const base = `C:\\relay-${id}`;
  const configFile = `${base}\\relay.json`;
  const dataDir = `${base}\\data`;
  let prefix: WinePrefix;
  let tenant: MockTenant;
  let runner: WineCommandRunner;
  let manager: ScManager;
  let plan: ServicePlan;
  let port = 0;
  let config: RelayConfigInput;

  const serviceLog = (): Promise<Array<{ msg?: string; [key: string]: unknown }>> => jsonLines(prefix.linuxPath(`${dataDir}\\logs\\service.log`));
  const countLog = async (msg: string): Promise<number> => (await serviceLog()).filter((line) => line.msg === msg).length;
  const scQuery = async (): Promise<string> => (await prefix.wine(['sc', 'query', 'smtp-oauth-relay'])).stdout;

  async function send(tag: string): Promise<void> {
    const client = await LegacyClient.connect(port);
    await client.send(tag);
    await client.quit();
  }

  async function writeConfig(value: unknown): Promise<void> {
    await writeFile(prefix.linuxPath(configFile), typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  }

  beforeAll(async () => {
    if (!existsSync(RELAY_CLI)) throw new Error(`${RELAY_CLI} is missing: run "npm run build" first`);
    prefix = await WinePrefix.create();
    tenant = await startMockTenant();
    port = freePort();
    await mkdir(prefix.linuxPath(base), { recursive: true });
    config = tenant.relayConfig(dataDir, {
      listen: { port },
      upstream: { caFile: winPath(tenant.caFile) },
      identity: { caFile: winPath(tenant.caFile) },
      secrets: { keyStore: 'file' },
      delivery: { retryDelaysSeconds: [1], stopTimeoutSeconds: 2 },
      log: { file: false },
    });
    // A second account that was never signed in: its "sign-in required" warning is the relay's
    // own Event Log line (through the host).
    config.accounts = [
      ...config.accounts,
      { name: 'scanner', mailbox: MOCK_MAILBOXES[1], sendAs: [MOCK_MAILBOXES[1]], auth: { method: 'delegated', tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID } },
    ];
    await writeConfig(config);

    const release = releaseDir();
    if (release !== undefined) {
      // The release: the host beside the single executable, which it starts by default.
      const installDir = 'C:\\Program Files\\smtp-oauth-relay';
      await mkdir(prefix.linuxPath(installDir), { recursive: true });
      execFileSync('cp', [join(release, 'smtp-oauth-relay.exe'), prefix.linuxPath(`${installDir}\\smtp-oauth-relay.exe`)]);
      await serviceHostExe(prefix.linuxPath(`${installDir}\\smtp-oauth-relay-service.exe`));
      plan = { node: `${installDir}\\smtp-oauth-relay.exe`, cli: `${installDir}\\smtp-oauth-relay.exe`, config: configFile, dataDir, account: 'NT SERVICE\\smtp-oauth-relay' };
    } else {
      // A Node install: node.exe and dist/cli/main.js; the host where ScManager looks for it.
      const nodeExe = await windowsNode();
      await installWin32KeyringBinding();
      await serviceHostExe(join(REPO_ROOT, 'windows', 'smtp-oauth-relay-service.exe'));
      plan = { node: winPath(nodeExe), cli: winPath(RELAY_CLI), config: configFile, dataDir, account: 'NT SERVICE\\smtp-oauth-relay' };
    }
    await prefix.startServer();
    runner = new WineCommandRunner(prefix);
    manager = new ScManager(runner);
  }, STEP_TIMEOUT);

  afterAll(async () => {
    await prefix?.close();
    await tenant?.close();
  });

  it(
    'service install (sc.exe create, failure, reg add, host prepare, net start): registered as the host under the virtual account, RUNNING once the relay listens',
    async () => {
      await manager.install(plan);
      const registration = (await prefix.wine(['reg', 'query', 'HKLM\\System\\CurrentControlSet\\Services\\smtp-oauth-relay'])).stdout;
      expect(registration).toMatch(/ImagePath\s+REG_SZ\s+"?[^"]*smtp-oauth-relay-service\.exe"? --config C:\\relay-[0-9a-f]+\\relay\.json --data-dir/);
      expect(registration).toMatch(/ObjectName\s+REG_SZ\s+NT SERVICE\\smtp-oauth-relay/);
      const source = (await prefix.wine(['reg', 'query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay'])).stdout;
      expect(source).toMatch(/EventMessageFile\s+REG_EXPAND_SZ\s+.*smtp-oauth-relay-service\.exe/);
      // prepare created the product folder under C:\ProgramData (its ACL: only Windows shows it).
      expect(existsSync(prefix.linuxPath('C:\\ProgramData\\smtp-oauth-relay'))).toBe(true);
      // install waited for the relay to listen: RUNNING now, not eventually.
      expect(await scQuery()).toMatch(/STATE\s+:\s+4\s+RUNNING/);
      expect(await countLog('relay started')).toBe(1);
    },
    STEP_TIMEOUT,
  );

  it(
    'a message from a Linux SMTP client is delivered to the mock tenant; a relay warning reaches the Event Log through the host',
    async () => {
      await send('service-1');
      await tenant.upstream.waitForMessages(1, 90_000);
      expect(tenant.upstream.messages.map(messageIdOf)).toContain(messageIdFor('service-1'));
      const warning = await eventually('the warning in the Event Log', async () => (await prefix.events()).find((event) => event.level === 'warn' && event.text.includes('scanner')));
      expect(warning.text).toMatch(/smtp-oauth-relay login --account scanner/);
    },
    STEP_TIMEOUT,
  );

  it(
    'net stop: the relay stops gracefully (stdin closed), a send in flight stays queued and is delivered after the next start',
    async () => {
      const hold = tenant.upstream.holdDataReplies();
      await send('during-stop');
      await hold.waitForHeld(1, 90_000);
      await manager.stop();
      expect(await scQuery()).toMatch(/STATE\s+:\s+1\s+STOPPED/);
      const lines = await serviceLog();
      expect(lines.find((line) => line.msg === 'stopping')).toMatchObject({ reason: 'stdin closed' });
      expect(lines.some((line) => line.msg === 'relay stopped')).toBe(true);
      expect(await scQuery()).toMatch(/WIN32_EXIT_CODE\s+:\s+0\s/);
      // The acknowledged message is still in the queue, on disk.
      expect(await readdir(prefix.linuxPath(`${dataDir}\\spool\\queue`))).not.toEqual([]);
      hold.release();

      await manager.start();
      await eventually('the queued message delivered after the restart', async () => (await countLog('message delivered')) >= 2);
      expect(tenant.upstream.messages.map(messageIdOf)).toContain(messageIdFor('during-stop'));
    },
    STEP_TIMEOUT,
  );

  it(
    'the relay crashes: the host reports it to the Event Log and starts it again; mail still flows',
    async () => {
      const started = await countLog('relay started');
      const pid = execFileSync('pgrep', ['-f', `serve --config ${configFile.replaceAll('\\', '\\\\')}`], { encoding: 'utf8' }).trim().split('\n')[0];
      expect(pid).toMatch(/^\d+$/);
      process.kill(Number(pid), 'SIGKILL');
      await eventually('the relay started again', async () => (await countLog('relay started')) > started);
      expect((await prefix.events()).some((event) => event.level === 'err' && /exited unexpectedly.*restarting it/.test(event.text))).toBe(true);
      expect(await scQuery()).toMatch(/STATE\s+:\s+4\s+RUNNING/);
      await send('after-crash');
      await eventually('delivered after the crash', async () => tenant.upstream.messages.map(messageIdOf).includes(messageIdFor('after-crash')));
    },
    STEP_TIMEOUT,
  );

  it(
    'a wrong configuration: STOPPED with service exit code 78, and the field in the Event Log',
    async () => {
      await manager.stop();
      await writeConfig({ ...config, listen: { port: 'twenty-five' } });
      try {
        // service start waits for the outcome and names it.
        await expect(manager.start()).rejects.toThrow(/did not start \(service exit code 78, Windows exit code 1066\).*Event Log/);
      } finally {
        await writeConfig(config);
      }
      expect(await scQuery()).toMatch(/SERVICE_EXIT_CODE\s+:\s+78\s/);
      expect(await scQuery()).toMatch(/WIN32_EXIT_CODE\s+:\s+1066\s/); // ERROR_SERVICE_SPECIFIC_ERROR
      const event = (await prefix.events()).find((found) => found.level === 'err' && found.text.includes('exit code 78'));
      expect(event?.text).toMatch(/listen\.port/);
    },
    STEP_TIMEOUT,
  );

  it(
    'service uninstall: the service is gone, the data folder and its queue stay',
    async () => {
      await manager.start();
      expect(await scQuery()).toMatch(/STATE\s+:\s+4\s+RUNNING/);
      await manager.uninstall();
      await eventually('deleted', async () => (await prefix.wine(['sc', 'query', 'smtp-oauth-relay'])).code !== 0);
      expect((await prefix.wine(['reg', 'query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay'])).code).not.toBe(0);
      expect(existsSync(prefix.linuxPath(`${dataDir}\\spool\\queue`))).toBe(true);
      expect(existsSync(prefix.linuxPath(configFile))).toBe(true);
    },
    STEP_TIMEOUT,
  );
});

describe('the Windows service under Wine: tools', () => {
  requireToolUnderCi(tools);
  it('has the tools or says which one is missing', () => {
    expect(tools.available || tools.reason !== '').toBe(true);
  });
});
