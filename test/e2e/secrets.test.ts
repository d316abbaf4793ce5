/**
 * The client secret of an app-only account kept under the key store instead of the config:
 * `secret set` reads it from stdin, a running daemon seals it in its own store and resumes the
 * held account, and the secret never appears in plain text in the data folder or the logs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MOCK_CLIENT_ID, MOCK_MAILBOX, MOCK_SEND_AS, MOCK_TENANT_ID } from '../mock-tenant/index.js';
import { requestControl } from '../../src/daemon/control-client.js';
import { controlEndpoint } from '../../src/daemon/control-endpoint.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';
import { runProcess, type ProcessResult } from '../support/run-process.js';
import { FaultFixture, LegacyClient } from './fault-fixture.js';

/** The account of the mock tenant, with no secret in the configuration. */
const accountWithoutSecret = {
  name: 'sage',
  mailbox: MOCK_MAILBOX,
  sendAs: [MOCK_SEND_AS],
  auth: { method: 'client-credentials' as const, tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID },
};

/** `smtp-oauth-relay secret set`, the secret piped on stdin as an administrator would. */
function secretSet(configFile: string, secret: string): Promise<ProcessResult> {
  return runProcess(process.execPath, [RELAY_CLI, 'secret', 'set', '--account', 'sage', '--config', configFile], { input: `${secret}\n` });
}

/** Every file below `dir`, as bytes, by its path relative to `dir`. */
async function allFiles(dir: string): Promise<Map<string, Buffer>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = new Map<string, Buffer>();
  for (const entry of entries.filter((candidate) => candidate.isFile())) {
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path));
  }
  return files;
}

describe('client secret in the key store', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('holds the account while no secret is stored; secret set through the daemon resumes it', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay({ accounts: [accountWithoutSecret], secrets: { keyStore: 'file' }, log: { file: true } });
    // A key kept in a file is said at every start and in status.
    expect(relay.logs.some((line) => line.level === 40 && String(line.msg).includes('file'))).toBe(true);
    const status = await requestControl(controlEndpoint(fixture.dataDir), { command: 'status' });
    expect(status).toMatchObject({ ok: true, result: { warnings: [expect.stringContaining('file')] } });

    const client = await LegacyClient.connect(relay.port);
    const id = await client.send('held-until-secret');
    await client.quit();
    await relay.waitForLog((line) => line.msg.startsWith('account held'));
    expect((await fixture.queueList(relay)).map((entry) => entry.id)).toEqual([id]);
    expect(fixture.tenant.upstream.messages).toHaveLength(0);

    const stored = await secretSet(relay.configFile, fixture.tenant.clientSecret);
    expect(stored).toMatchObject({ code: 0, stdout: expect.stringContaining("running relay's key store") });

    await fixture.tenant.upstream.waitForMessages(1, 30_000);
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === id);

    // Sealed, never in plain text: not in any file of the data folder (logs included). Stopped
    // first, so that no file changes while it is read.
    expect((await relay.kill('SIGTERM')).code).toBe(0);
    const secret = Buffer.from(fixture.tenant.clientSecret);
    const files = await allFiles(fixture.dataDir);
    // The search covers the sealed secret itself and the log, where a leak would show first.
    expect([...files.keys()]).toEqual(expect.arrayContaining(['secrets/sage.client-secret.sealed', 'logs/relay.log']));
    for (const [name, bytes] of files) expect(bytes.includes(secret), `${name} holds the secret`).toBe(false);
  });

  it('without a daemon, stores the secret where the next start finds it', async () => {
    fixture = await FaultFixture.create();
    const config = fixture.config({ accounts: [accountWithoutSecret], secrets: { keyStore: 'file' } });
    const configFile = join(fixture.dir, 'offline.json');
    await import('node:fs/promises').then(({ writeFile }) => writeFile(configFile, JSON.stringify(config)));

    expect(await secretSet(configFile, fixture.tenant.clientSecret)).toMatchObject({ code: 0, stdout: expect.stringContaining('when it next starts') });
    const relay = await fixture.startRelay({ accounts: [accountWithoutSecret], secrets: { keyStore: 'file' } });
    const client = await LegacyClient.connect(relay.port);
    await client.send('after-offline-secret');
    await client.quit();
    await fixture.tenant.upstream.waitForMessages(1, 30_000);
  });

  it('refuses an empty secret on stdin, and an account that signs in as a person', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay();
    const empty = await secretSet(relay.configFile, '');
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('no secret was given on stdin');
    const unknown = await runProcess(process.execPath, [RELAY_CLI, 'secret', 'set', '--account', 'nobody', '--config', relay.configFile]);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('No account named "nobody"') });
  });

  it.runIf(process.platform === 'linux')('with the keychain chosen but no Secret Service, the relay refuses to start, says why and what to do, and exits 69', async () => {
    fixture = await FaultFixture.create();
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: '' };
    const start = RelayProcess.start({ config: fixture.config({ accounts: [accountWithoutSecret] }), dir: fixture.dir, env });
    await expect(start).rejects.toThrow(/exited with 69/);
    await expect(start).rejects.toThrow(/No usable OS keychain/);
    await expect(start).rejects.toThrow(/"keyStore": "file"/);
  });
});
