/**
 * Linux: the systemd manager's commands, and `service install --print`, which prints the unit and
 * the commands and changes nothing.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DryRun, runServiceAction, type ServicePlan, SystemdManager } from '../../src/service/index.js';

const plan: ServicePlan = {
  node: '/usr/bin/node',
  cli: '/usr/lib/node_modules/smtp-oauth-relay/dist/cli/main.js',
  config: '/etc/smtp-oauth-relay/relay.json',
  dataDir: '/var/lib/smtp-oauth-relay',
  account: 'smtp-oauth-relay',
};

describe('systemd manager commands', () => {
  it('install: creates the missing user, owns the data folder, writes the unit, enables and starts it', async () => {
    const dryRun = new DryRun();
    const manager = new SystemdManager(dryRun, dryRun);
    await manager.install(plan);
    expect(dryRun.commandLines()).toEqual([
      'getent passwd smtp-oauth-relay',
      'useradd --system --user-group --home-dir /var/lib/smtp-oauth-relay --no-create-home --shell /usr/sbin/nologin smtp-oauth-relay',
      'install -d -m 0700 -o smtp-oauth-relay -g smtp-oauth-relay /var/lib/smtp-oauth-relay',
      'chown -hR smtp-oauth-relay:smtp-oauth-relay /var/lib/smtp-oauth-relay',
      'chgrp smtp-oauth-relay /etc/smtp-oauth-relay/relay.json',
      'chmod 0640 /etc/smtp-oauth-relay/relay.json',
      'systemctl daemon-reload',
      'systemctl enable --now smtp-oauth-relay.service',
    ]);
    expect(dryRun.fileAt('/etc/systemd/system/smtp-oauth-relay.service')).toContain('User=smtp-oauth-relay\n');
  });

  it('install: an existing user is kept', async () => {
    const dryRun = new DryRun((program) => (program === 'getent' ? { code: 0, stdout: 'smtp-oauth-relay:x:998:998::/var/lib/smtp-oauth-relay:/usr/sbin/nologin\n', stderr: '' } : undefined));
    await new SystemdManager(dryRun, dryRun).install(plan);
    expect(dryRun.commandLines().some((line) => line.startsWith('useradd'))).toBe(false);
  });

  it('uninstall, start, stop, restart, status', async () => {
    const dryRun = new DryRun((_program, args) => (args[0] === 'status' ? { code: 3, stdout: 'inactive (dead)', stderr: '' } : undefined));
    const manager = new SystemdManager(dryRun, dryRun);
    await manager.start();
    await manager.stop();
    await manager.restart();
    expect(await manager.status()).toMatchObject({ code: 3, stdout: 'inactive (dead)' }); // stopped is an answer, not an error
    await manager.uninstall();
    expect(dryRun.commandLines()).toEqual([
      'systemctl start smtp-oauth-relay.service',
      'systemctl stop smtp-oauth-relay.service',
      'systemctl restart smtp-oauth-relay.service',
      'systemctl status --no-pager smtp-oauth-relay.service',
      'systemctl disable --now smtp-oauth-relay.service',
      'systemctl daemon-reload',
    ]);
    expect(dryRun.steps).toContainEqual({ kind: 'remove', path: '/etc/systemd/system/smtp-oauth-relay.service' });
  });
});

// It reads a real configuration through POSIX paths (the unit can hold no other): Linux and macOS only.
describe.skipIf(process.platform === 'win32')('service install --print on Linux', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'service-print-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the unit and the commands, with the configuration dataDir, and changes nothing', async () => {
    const config = join(dir, 'relay.json');
    await copyFile('config.example.json', config);
    const modeBefore = (await stat(config)).mode;
    const unitExisted = existsSync('/etc/systemd/system/smtp-oauth-relay.service');
    let printed = '';
    const code = await runServiceAction(
      'install',
      { config, print: true },
      { target: { platform: 'linux', system: false, env: {} }, node: process.execPath, cli: '/opt/relay/dist/cli/main.js', out: (text) => (printed += text) },
    );
    expect(code).toBe(0);
    expect(printed).toContain('nothing was changed');
    expect(printed).toContain('# write /etc/systemd/system/smtp-oauth-relay.service (mode 0644):');
    expect(printed).toContain(`    ExecStart=${process.execPath} /opt/relay/dist/cli/main.js serve --config ${config}`);
    expect(printed).toContain(`    ReadWritePaths=${join(dir, 'data')}`); // config.example.json's "./data", next to the file
    expect(printed).toContain('# check: getent passwd smtp-oauth-relay');
    expect(printed).toContain('\nuseradd --system');
    expect(printed).toContain('\nsystemctl enable --now smtp-oauth-relay.service\n');
    expect((await stat(config)).mode).toBe(modeBefore);
    expect(existsSync(join(dir, 'data'))).toBe(false);
    expect(existsSync('/etc/systemd/system/smtp-oauth-relay.service')).toBe(unitExisted);
  });

  it('a missing configuration is an error for a real install, the default dataDir for a preview', async () => {
    const environment = { target: { platform: 'linux' as const, system: false, env: {} }, node: process.execPath, cli: '/opt/relay/main.js', runner: new DryRun(), files: new DryRun() };
    let printed = '';
    await runServiceAction('install', { config: join(dir, 'absent.json'), print: true }, { ...environment, out: (text) => (printed += text) });
    expect(printed).toContain('ReadWritePaths=/var/lib/smtp-oauth-relay');
    await expect(runServiceAction('install', { config: join(dir, 'absent.json') }, { ...environment, out: () => undefined })).rejects.toThrow(/file not found/);
    expect(environment.runner.steps).toEqual([]);
  });
});
