/**
 * `service install` leaves an installation record where the commands look for it, so that
 * `status` without --config finds the installed configuration; `service uninstall` removes it.
 * Real files in a scratch home (a macOS LaunchAgent layout, which is all under $HOME); the
 * service manager's commands go to a DryRun.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfigFile } from '../../src/cli/default-config.js';
import { readInstallationRecord } from '../../src/core/installation-record.js';
import { DryRun, runServiceAction } from '../../src/service/index.js';
import { installationRecordPath } from '../../src/service/run-service-action.js';

/** config.example.json, whose dataDir "./data" lies beside the file. */
function exampleConfig(): Promise<string> {
  return readFile('config.example.json', 'utf8');
}

// It plays a macOS LaunchAgent with real files: under Windows the scratch paths are Windows paths,
// which a macOS layout cannot hold (the Windows layout is covered in src/core/default-paths.test.ts).
describe.skipIf(process.platform === 'win32')('the installation record', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'record-home-'));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('is written by service install and followed by a command without --config; uninstall removes it', async () => {
    // The configuration is kept outside the default folder: only the record can lead to it.
    const config = join(home, 'elsewhere', 'relay.json');
    await mkdir(join(home, 'elsewhere'));
    await writeFile(config, await exampleConfig());
    const target = { platform: 'darwin' as const, system: false, env: { HOME: home } };
    const environment = { target, node: process.execPath, cli: '/opt/relay/dist/cli/main.js', out: () => undefined, runner: new DryRun() };

    expect(await runServiceAction('install', { config }, environment)).toBe(0);
    const recordPath = installationRecordPath(target);
    expect(recordPath).toBe(join(home, 'Library/Application Support/smtp-oauth-relay/installed-service.json'));
    const lookup = readInstallationRecord(recordPath);
    expect(lookup).toMatchObject({ found: true, record: { manager: 'launchd', config, dataDir: join(home, 'elsewhere', 'data'), account: expect.any(String) } });

    expect(resolveConfigFile({ platform: 'darwin', env: {}, home })).toMatchObject({ file: config, source: 'installed' });

    expect(await runServiceAction('uninstall', {}, environment)).toBe(0);
    expect(existsSync(recordPath)).toBe(false);
    expect(resolveConfigFile({ platform: 'darwin', env: {}, home }).source).toBe('platform default');
  });

  it('goes beside $SMTP_OAUTH_RELAY_CONFIG when that names the configuration', () => {
    expect(installationRecordPath({ platform: 'linux', system: false, env: { SMTP_OAUTH_RELAY_CONFIG: '/srv/r/relay.json' } })).toBe('/srv/r/installed-service.json');
    expect(installationRecordPath({ platform: 'linux', system: false, env: {} })).toBe('/etc/smtp-oauth-relay/installed-service.json');
    expect(installationRecordPath({ platform: 'win32', system: false, env: { ProgramData: 'C:\\ProgramData' } })).toBe('C:\\ProgramData\\smtp-oauth-relay\\installed-service.json');
    expect(installationRecordPath({ platform: 'darwin', system: true, env: { HOME: '/Users/a' } })).toBe('/Library/Application Support/smtp-oauth-relay/installed-service.json');
  });

  it('--print shows the record it would write and writes nothing', async () => {
    const config = join(home, 'relay.json');
    await writeFile(config, await exampleConfig());
    let printed = '';
    const target = { platform: 'darwin' as const, system: false, env: { HOME: home } };
    await runServiceAction('install', { config, print: true }, { target, node: process.execPath, cli: '/opt/main.js', out: (text) => (printed += text) });
    expect(printed).toContain(`installed-service.json (mode 0644)`);
    expect(printed).toContain(`"config": "${config}"`);
    expect(existsSync(installationRecordPath(target))).toBe(false);
  });
});
