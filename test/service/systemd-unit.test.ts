/**
 * The generated systemd unit passes `systemd-analyze verify` of the systemd on this machine
 * (which also rejects keys it does not know, e.g. RestartSteps= before 254).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderSystemdUnit, type ServicePlan } from '../../src/service/index.js';
import { requireToolUnderCi, systemTool } from '../support/system-tool.js';

const analyze = systemTool('systemd-analyze', ['systemd-analyze', '--version'], 'apt-get install systemd');

function verify(unitFile: string): { code: number | null; output: string } {
  const result = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * The unit is for Linux: this machine's node and CLI there (systemd-analyze checks they exist),
 * POSIX stand-ins when the test runs on Windows, whose paths a unit cannot hold.
 */
const LINUX_NODE = process.platform === 'win32' ? '/usr/bin/node' : process.execPath;
const LINUX_CLI = process.platform === 'win32' ? '/usr/lib/node_modules/smtp-oauth-relay/dist/cli/main.js' : join(process.cwd(), 'dist/cli/main.js');

describe('systemd unit', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const plan = (overrides: Partial<ServicePlan> = {}): ServicePlan => ({
    node: LINUX_NODE,
    cli: LINUX_CLI,
    config: '/etc/smtp-oauth-relay/relay.json',
    dataDir: '/var/lib/smtp-oauth-relay',
    account: 'smtp-oauth-relay',
    ...overrides,
  });

  it('holds the paths, the user and the sandbox', () => {
    const unit = renderSystemdUnit(plan());
    expect(unit).toContain(`ExecStart=${LINUX_NODE} ${LINUX_CLI} serve --config /etc/smtp-oauth-relay/relay.json\n`);
    for (const line of ['User=smtp-oauth-relay', 'Group=smtp-oauth-relay', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'ReadWritePaths=/var/lib/smtp-oauth-relay', 'Restart=on-failure', 'KillSignal=SIGTERM', 'TimeoutStopSec=45', 'WantedBy=multi-user.target', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6']) {
      expect(unit.split('\n')).toContain(line);
    }
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
    expect(unit).not.toContain('{{');
  });

  it('refuses a user name systemd cannot take as is', () => {
    expect(() => renderSystemdUnit(plan({ account: 'relay user' }))).toThrow(/not a valid Linux user name/);
    expect(() => renderSystemdUnit(plan({ dataDir: 'data' }))).toThrow(/absolute paths/);
  });

  // systemd-analyze is Linux's: on Windows the unit's rendering above is what can be checked.
  describe.skipIf(process.platform === 'win32')('systemd-analyze verify', () => {
    requireToolUnderCi(analyze);
    if (!analyze.available) return;

    it('passes for the unit of this machine (real node, the built CLI)', async () => {
      const file = join(dir, 'smtp-oauth-relay.service');
      await writeFile(file, renderSystemdUnit(plan()));
      const result = verify(file);
      expect(result.output).not.toMatch(/Unknown key|Failed|Invalid|Ignoring/i);
      expect(result.code).toBe(0);
    });

    it('passes with paths that need quoting (space, %, $)', async () => {
      const odd = join(dir, 'Program Files 100%');
      await mkdir(odd);
      await symlink(process.execPath, join(odd, 'node'));
      const file = join(dir, 'smtp-oauth-relay.service');
      await writeFile(file, renderSystemdUnit(plan({ node: join(odd, 'node'), cli: join(odd, 'main $x.js'), config: join(odd, 'relay.json') })));
      const result = verify(file);
      expect(result.output).not.toMatch(/Unknown key|Failed|Invalid|Ignoring/i);
      expect(result.code).toBe(0);
    });

    it('does flag a unit with a key this systemd does not know (the check can fail)', async () => {
      const file = join(dir, 'smtp-oauth-relay.service');
      await writeFile(file, renderSystemdUnit(plan()).replace('RestartSec=10', 'RestartSec=10\nRestartStepz=5'));
      expect(verify(file).output).toMatch(/Unknown key/);
    });
  });
});
