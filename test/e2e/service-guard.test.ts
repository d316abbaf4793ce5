/**
 * With a service installed and not running, `secret set`, `login` and `logout` refuse to work in
 * the administrator's own key store (which the service account cannot read) and say how to
 * start the service; `--offline` allows it. The service is "installed" by the installation
 * record that `service install` leaves beside the configuration ($SMTP_OAUTH_RELAY_CONFIG).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clientSecretPath } from '../../src/auth/index.js';
import { formatInstallationRecord } from '../../src/core/installation-record.js';
import { MOCK_MAILBOX, MOCK_PUBLIC_CLIENT_ID, MOCK_TENANT_ID } from '../mock-tenant/index.js';
import { RELAY_CLI } from '../support/relay-process.js';
import { runProcess, type ProcessResult } from '../support/run-process.js';
import { FaultFixture } from './fault-fixture.js';

const appOnly = { name: 'app', mailbox: MOCK_MAILBOX, auth: { method: 'client-credentials' as const, tenantId: MOCK_TENANT_ID, clientId: '11111111-1111-4111-8111-111111111111' } };
const delegated = { name: 'sage', mailbox: 'scanner@contoso.example', auth: { method: 'delegated' as const, tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID } };

describe('no running relay, a service installed', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  async function installedConfig(withRecord: boolean): Promise<{ configFile: string; cli: (args: string[], input?: string) => Promise<ProcessResult> }> {
    fixture = await FaultFixture.create();
    const configFile = join(fixture.dir, 'relay.json');
    await writeFile(configFile, JSON.stringify(fixture.config({ accounts: [appOnly, delegated], secrets: { keyStore: 'file' } })));
    if (withRecord) {
      const record = { schemaVersion: 1 as const, service: 'smtp-oauth-relay', manager: 'systemd' as const, account: 'smtp-oauth-relay', config: configFile, dataDir: fixture.dataDir, installedAt: new Date().toISOString() };
      await writeFile(join(fixture.dir, 'installed-service.json'), formatInstallationRecord(record));
    }
    const env = { ...process.env, SMTP_OAUTH_RELAY_CONFIG: configFile };
    return {
      configFile,
      cli: (args, input) => runProcess(process.execPath, [RELAY_CLI, ...args], { env, cwd: fixture!.dir, timeoutMs: 20_000, ...(input === undefined ? {} : { input }) }),
    };
  }

  function expectRefusal(result: ProcessResult): void {
    expect(result.code, result.stderr).toBe(69);
    expect(result.stderr).toContain('no relay answers on');
    expect(result.stderr).toContain('uses this data folder');
    expect(result.stderr).toContain('\n    smtp-oauth-relay service start\n');
    expect(result.stderr).toContain('--offline');
  }

  it('secret set refuses and stores nothing; with --offline it stores the secret here', async () => {
    const { cli } = await installedConfig(true);
    const refused = await cli(['secret', 'set', '--account', 'app'], 'the-secret\n');
    expectRefusal(refused);
    expect(existsSync(clientSecretPath(fixture!.dataDir, 'app'))).toBe(false);

    const stored = await cli(['secret', 'set', '--account', 'app', '--offline'], 'the-secret\n');
    expect(stored.code, stored.stderr).toBe(0);
    expect(existsSync(clientSecretPath(fixture!.dataDir, 'app'))).toBe(true);
  });

  it('login and logout refuse', async () => {
    const { cli } = await installedConfig(true);
    expectRefusal(await cli(['login', '--account', 'sage', '--device-code']));
    expectRefusal(await cli(['logout', '--account', 'sage']));
  });

  it('without a service installed, secret set works here as before', async () => {
    const { cli } = await installedConfig(false);
    const stored = await cli(['secret', 'set', '--account', 'app'], 'the-secret\n');
    expect(stored.code, stored.stderr).toBe(0);
    expect(existsSync(clientSecretPath(fixture!.dataDir, 'app'))).toBe(true);
  });
});
