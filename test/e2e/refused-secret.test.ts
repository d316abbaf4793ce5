/**
 * An app-only account whose secret is present but refused by Entra (AADSTS7000215). The start
 * does not ask Entra (that would load MSAL in every idle relay: docs/performance.md, "Memory"),
 * so the refusal shows at the first token request: the first delivery holds the account with
 * Entra's code and `status` says CRITICAL with the fix, and `doctor` names it without a daemon.
 * Needs `npm run build` first.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RELAY_CLI } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { FaultFixture, LegacyClient } from './fault-fixture.js';

describe('a client secret that Entra refuses', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && fixture !== undefined) process.stdout.write(`${fixture.logs()}\n`);
    await fixture?.close();
    fixture = undefined;
  });

  /** The tenant's account with a secret the mock identity provider refuses. */
  function wrongSecret(f: FaultFixture) {
    return f.config().accounts.map((account) => ({ ...account, auth: { ...account.auth, clientSecret: 'not-the-secret' } }));
  }

  it('holds the account at its first delivery, with the code in status; doctor fails the token check with the fix', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay({ accounts: wrongSecret(fixture) });
    const client = await LegacyClient.connect(relay.port);
    await client.send('refused-secret');
    await client.quit();
    const held = await relay.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('account held'));
    expect(JSON.stringify(held)).toContain('AADSTS7000215');
    expect(fixture.tenant.upstream.messages).toHaveLength(0);

    const status = await runProcess(process.execPath, [RELAY_CLI, 'status', '--json', '--config', relay.configFile], { timeoutMs: 30_000 });
    const report = JSON.parse(status.stdout) as { exitCode: number; accounts: Array<{ state: string }>; problems: Array<{ text: string; nextStep?: string }> };
    expect(status.code).toBe(2);
    expect(report.accounts[0]).toMatchObject({ state: 'admin-action-required' });
    expect(report.problems[0]?.text).toContain('AADSTS7000215');
    expect(report.problems[0]?.nextStep).toContain('secret set --account sage');
    await relay.kill('SIGTERM');

    const configFile = join(fixture.dir, 'doctor.json');
    await writeFile(configFile, JSON.stringify(fixture.config({ accounts: wrongSecret(fixture) }), null, 2));
    const doctor = await runProcess(process.execPath, [RELAY_CLI, 'doctor', '--config', configFile, '--account', 'sage'], { cwd: fixture.dir, timeoutMs: 60_000 });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/^FAIL  token \[sage\].*AADSTS7000215/m);
    expect(doctor.stdout).toContain('secret set --account sage');
    expect(doctor.stdout).not.toContain('not-the-secret');
  });
});
