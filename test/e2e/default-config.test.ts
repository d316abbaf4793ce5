/**
 * Every command finds the installed configuration without --config: here through
 * SMTP_OAUTH_RELAY_CONFIG (what the default paths resolve to on each OS is tested in
 * src/cli/default-config.test.ts, the record that `service install` leaves in
 * test/service/installation-record.test.ts).
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RELAY_CLI } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { FaultFixture } from './fault-fixture.js';

function withoutConfigVariable(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (extra.SMTP_OAUTH_RELAY_CONFIG === undefined) delete env.SMTP_OAUTH_RELAY_CONFIG;
  return env;
}

describe('commands without --config', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('status and queue list reach the running relay named by SMTP_OAUTH_RELAY_CONFIG', async () => {
    fixture = await FaultFixture.create();
    // No inline client secret: that would be a standing warning, and status must say OK here.
    const relay = await fixture.startRelay({ accounts: fixture.accountsWithSecretFromEnvironment() });
    const env = withoutConfigVariable({ SMTP_OAUTH_RELAY_CONFIG: relay.configFile });

    const status = await runProcess(process.execPath, [RELAY_CLI, 'status'], { env, cwd: fixture.dir });
    expect(status.stdout).toMatch(/^OK: /);
    expect(status.stdout).toContain('Relay: running');
    expect(status.code).toBe(0);

    const queue = await runProcess(process.execPath, [RELAY_CLI, 'queue', 'list', '--json'], { env, cwd: fixture.dir });
    expect(queue).toMatchObject({ code: 0 });
    expect(JSON.parse(queue.stdout)).toEqual([]);
  });

  it.runIf(process.platform === 'linux' && !existsSync('/etc/smtp-oauth-relay'))(
    'on Linux, name /etc/smtp-oauth-relay/relay.json when nothing is installed',
    async () => {
      const check = await runProcess(process.execPath, [RELAY_CLI, 'config', 'check'], { env: withoutConfigVariable() });
      expect(check.code).toBe(78);
      expect(check.stderr).toContain('/etc/smtp-oauth-relay/relay.json');
      const help = await runProcess(process.execPath, [RELAY_CLI, 'status', '--help'], { env: withoutConfigVariable() });
      expect(help.stdout.replace(/\s+/g, ' ')).toContain('(default: "/etc/smtp-oauth-relay/relay.json")');
      const status = await runProcess(process.execPath, [RELAY_CLI, 'status'], { env: withoutConfigVariable() });
      expect(status.code).toBe(3);
      expect(status.stdout).toContain('/etc/smtp-oauth-relay/relay.json');
    },
  );
});
