/**
 * The MSI (windows/smtp-oauth-relay.wxs, built by wixl) installed and removed by Wine's msiexec
 * (docs/windows-service.md):
 *  - `msiexec /i /qn`: both executables under C:\Program Files\smtp-oauth-relay, the service
 *    registered (host as binPath, NT SERVICE\smtp-oauth-relay), the Event Log source and the
 *    paths in the registry, %ProgramData%\smtp-oauth-relay prepared, the service RUNNING, and a
 *    message from a Linux SMTP client delivered to the mock tenant;
 *  - `msiexec /x /qn`: the service, the executables and the registry values are gone; the
 *    configuration, the data folder and a queued message stay.
 * The relay is RELEASE_DIR's smtp-oauth-relay.exe when there is one, else a stand-in that runs the
 * Windows node.exe with dist/cli/main.js. Skips without wine, mingw-w64 and wixl (fails under CI=true).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LegacyClient, messageIdFor, messageIdOf } from '../e2e/fault-fixture.js';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { RELAY_CLI, REPO_ROOT } from '../support/relay-process.js';
import { requireToolUnderCi, type ToolCheck } from '../support/system-tool.js';
import {
  buildMsi,
  eventually,
  freePort,
  installWin32KeyringBinding,
  jsonLines,
  relayLauncherStub,
  releaseDir,
  serviceHostExe,
  WinePrefix,
  winPath,
  windowsNode,
  wineTools,
  wixlTool,
} from './wine-service-support.js';

const wine = wineTools();
const wixl = wixlTool();
const tools: ToolCheck = wine.available ? wixl : wine;
const STEP_TIMEOUT = 240_000;
const PRODUCT_DIR = 'C:\\ProgramData\\smtp-oauth-relay';
const INSTALL_DIR = 'C:\\Program Files\\smtp-oauth-relay';

describe.runIf(tools.available)('the MSI under Wine', () => {
  let prefix: WinePrefix;
  let tenant: MockTenant;
  let work = '';
  let msi = '';
  let port = 0;

  const scQuery = async (): Promise<string> => (await prefix.wine(['sc', 'query', 'smtp-oauth-relay'])).stdout;
  const serviceLog = (): ReturnType<typeof jsonLines> => jsonLines(prefix.linuxPath(`${PRODUCT_DIR}\\data\\logs\\service.log`));

  /** Whether a Linux process of this prefix runs the installed host (its command line names it). */
  async function hostRunning(): Promise<boolean> {
    const found = spawnSync('pgrep', ['-f', 'Program Files\\\\smtp-oauth-relay\\\\smtp-oauth-relay-service.exe'], { encoding: 'utf8' });
    const pids = found.stdout.split('\n').filter((pid) => pid !== '');
    const ours = await Promise.all(pids.map(async (pid) => (await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')).includes(`WINEPREFIX=${prefix.env.WINEPREFIX}\0`)));
    return ours.some(Boolean);
  }

  async function send(tag: string): Promise<void> {
    const client = await LegacyClient.connect(port);
    await client.send(tag);
    await client.quit();
  }

  beforeAll(async () => {
    if (!existsSync(RELAY_CLI)) throw new Error(`${RELAY_CLI} is missing: run "npm run build" first`);
    work = await mkdtemp(join(tmpdir(), 'relay-msi-'));
    const release = join(work, 'release');
    await mkdir(release);
    const realRelease = releaseDir();
    if (realRelease !== undefined) {
      execFileSync('cp', [join(realRelease, 'smtp-oauth-relay.exe'), join(release, 'smtp-oauth-relay.exe')]);
    } else {
      await installWin32KeyringBinding();
      await relayLauncherStub(join(release, 'smtp-oauth-relay.exe'), winPath(await windowsNode()), winPath(RELAY_CLI));
    }
    await serviceHostExe(join(release, 'smtp-oauth-relay-service.exe'));
    await copyFile(join(REPO_ROOT, 'windows', 'self-check.ps1'), join(release, 'self-check.ps1'));
    msi = await buildMsi(release, join(work, 'smtp-oauth-relay.msi'));

    prefix = await WinePrefix.create();
    tenant = await startMockTenant();
    port = freePort();
    // The administrator's configuration, where the MSI's registry value points (a managed
    // deployment copies it there; the host's prepare then replaces the folder's ACL).
    const config = tenant.relayConfig(`${PRODUCT_DIR}\\data`, {
      listen: { port },
      upstream: { caFile: winPath(tenant.caFile) },
      identity: { caFile: winPath(tenant.caFile) },
      secrets: { keyStore: 'file' },
      delivery: { retryDelaysSeconds: [1] },
      log: { file: false },
    });
    await mkdir(prefix.linuxPath(PRODUCT_DIR), { recursive: true });
    await writeFile(prefix.linuxPath(`${PRODUCT_DIR}\\relay.json`), JSON.stringify(config, null, 2));
    await prefix.startServer();
  }, STEP_TIMEOUT);

  afterAll(async () => {
    await prefix?.close();
    await tenant?.close();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it(
    'msiexec /i /qn: executables installed, service registered and RUNNING, Event Log source and paths registered, a message delivered',
    async () => {
      process.stdout.write(`MSI ${statSync(msi).size} bytes, service host ${statSync(join(work, 'release', 'smtp-oauth-relay-service.exe')).size} bytes\n`);
      const installed = await prefix.wine(['msiexec', '/i', winPath(msi), '/qn'], STEP_TIMEOUT);
      expect(installed.code).toBe(0);
      expect(existsSync(prefix.linuxPath(`${INSTALL_DIR}\\smtp-oauth-relay.exe`))).toBe(true);
      expect(existsSync(prefix.linuxPath(`${INSTALL_DIR}\\smtp-oauth-relay-service.exe`))).toBe(true);
      expect(existsSync(prefix.linuxPath(`${INSTALL_DIR}\\self-check.ps1`))).toBe(true);

      const registration = (await prefix.wine(['reg', 'query', 'HKLM\\System\\CurrentControlSet\\Services\\smtp-oauth-relay'])).stdout;
      expect(registration).toMatch(/ImagePath\s+REG_\w+\s+"?C:\\Program Files\\smtp-oauth-relay\\smtp-oauth-relay-service\.exe"?/);
      expect(registration).toMatch(/ObjectName\s+REG_SZ\s+NT SERVICE\\smtp-oauth-relay/);
      expect((await prefix.wine(['reg', 'query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay'])).stdout).toMatch(
        /EventMessageFile\s+REG_\w+\s+C:\\Program Files\\smtp-oauth-relay\\smtp-oauth-relay-service\.exe/,
      );
      const settings = (await prefix.wine(['reg', 'query', 'HKLM\\SOFTWARE\\smtp-oauth-relay'])).stdout;
      expect(settings).toMatch(/ConfigFile\s+REG_SZ\s+C:\\ProgramData\\smtp-oauth-relay\\relay\.json/);
      expect(settings).toMatch(/DataDir\s+REG_SZ\s+C:\\ProgramData\\smtp-oauth-relay\\data/);

      // The MSI starts the service without waiting (Wait="no"): the host reports RUNNING once the relay listens.
      await eventually('RUNNING', async () => /STATE\s+:\s+4\s+RUNNING/.test(await scQuery()));
      // prepare ran before the start: it created the data folder the host writes its log into.
      expect((await serviceLog()).some((line) => line.msg === 'relay started')).toBe(true);
      await send('msi-1');
      await tenant.upstream.waitForMessages(1, 90_000);
      expect(tenant.upstream.messages.map(messageIdOf)).toContain(messageIdFor('msi-1'));
    },
    STEP_TIMEOUT,
  );

  it(
    'msiexec /x /qn: service, executables and registry values gone; configuration, data folder and a queued message kept',
    async () => {
      const queue = prefix.linuxPath(`${PRODUCT_DIR}\\data\\spool\\queue`);
      const messages = async (): Promise<string[]> => (await readdir(queue)).filter((name) => name.endsWith('.eml'));
      // The first message left the queue once delivered; the next one cannot go anywhere.
      await eventually('an empty queue', async () => (await messages()).length === 0);
      await tenant.upstream.down();
      await send('queued-at-uninstall');
      const queued = await eventually('the message in the queue', async () => ((await messages()).length > 0 ? messages() : undefined));

      // Stopped first: under Wine, msiexec's RemoveFiles can come while the stopped host's image is
      // still mapped, and Wine's msi then keeps (even copies back) the files; the MSI's own stop
      // (ServiceControl Stop="both" Wait="yes") is the same graceful stop (docs/windows-service.md).
      await prefix.wine(['net', 'stop', 'smtp-oauth-relay']);
      await eventually('STOPPED', async () => /STATE\s+:\s+1\s+STOPPED/.test(await scQuery()));
      await eventually('the host process gone', async () => !(await hostRunning()));
      const removed = await prefix.wine(['msiexec', '/x', winPath(msi), '/qn', '/l*v', 'C:\\msi-uninstall.log'], STEP_TIMEOUT);
      expect(removed.code).toBe(0);
      await eventually('the service deleted', async () => (await prefix.wine(['sc', 'query', 'smtp-oauth-relay'])).code !== 0);
      const leftovers = ['smtp-oauth-relay.exe', 'smtp-oauth-relay-service.exe', 'self-check.ps1'].filter((name) => existsSync(prefix.linuxPath(`${INSTALL_DIR}\\${name}`)));
      expect(leftovers).toEqual([]);
      expect((await prefix.wine(['reg', 'query', 'HKLM\\SOFTWARE\\smtp-oauth-relay'])).code).not.toBe(0);
      expect((await prefix.wine(['reg', 'query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay'])).code).not.toBe(0);
      // The stop was graceful: the host closed the relay's stdin.
      expect((await serviceLog()).find((line) => line.msg === 'stopping')).toMatchObject({ reason: 'stdin closed' });
      expect(existsSync(prefix.linuxPath(`${PRODUCT_DIR}\\relay.json`))).toBe(true);
      expect(await messages()).toEqual(queued);
    },
    STEP_TIMEOUT,
  );
});

describe('the MSI under Wine: tools', () => {
  requireToolUnderCi(tools);
  it('has the tools or says which one is missing', () => {
    expect(tools.available || tools.reason !== '').toBe(true);
  });
});
