/**
 * The relay with its keys in a real Secret Service (gnome-keyring in its own DBus session):
 * an administrator outside that session stores an app-only client secret and signs a delegated
 * account in, both through the running daemon, which seals them under its own keychain; mail goes
 * out with both; and no token or secret is anywhere in the data folder or the logs in plain text.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MOCK_CLIENT_ID, MOCK_MAILBOX, MOCK_PUBLIC_CLIENT_ID, MOCK_SEND_AS, MOCK_TENANT_ID, startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { missingSecretServiceTool, secretServiceEnv, WITH_SECRET_SERVICE } from '../support/secret-service.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { requireToolUnderCi } from '../support/system-tool.js';

const SCANNER = 'scanner@contoso.example';

describe('the relay on a real Secret Service', () => {
  if (missingSecretServiceTool !== undefined) {
    requireToolUnderCi(missingSecretServiceTool);
    return;
  }

  let dir: string | undefined;
  let tenant: MockTenant | undefined;
  let relayPid: number | undefined;

  afterEach(async () => {
    if (relayPid !== undefined) {
      try {
        process.kill(relayPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await tenant?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    relayPid = undefined;
    tenant = undefined;
    dir = undefined;
  });

  /** One message through the relay; the From header matches the envelope sender. */
  async function send(port: number, from: string, tag: string): Promise<void> {
    const wire = await SmtpWire.open(port);
    await wire.startData(from, ['customer@fabrikam.example']);
    const reply = await wire.command(`From: ${from}\r\nTo: customer@fabrikam.example\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@contoso.example>\r\n\r\n${tag}\r\n.`);
    expect(reply.code).toBe(250);
    await wire.command('QUIT');
  }

  it('seals what the administrator gives the running daemon under its keychain, sends with it, and leaves no secret in plain text', async () => {
    dir = await mkdtemp(join(tmpdir(), 'keychain-relay-'));
    const home = join(dir, 'home');
    await mkdir(join(home, 'runtime'), { recursive: true, mode: 0o700 });
    tenant = await startMockTenant();
    tenant.identity.configureDeviceCodes({ intervalSeconds: 0.05 });
    const dataDir = join(dir, 'data');
    const config = tenant.relayConfig(dataDir, {
      listen: { port: 0 },
      delivery: { retryDelaysSeconds: [1], holdRetrySeconds: 1 },
      accounts: [
        { name: 'sage', mailbox: MOCK_MAILBOX, sendAs: [MOCK_SEND_AS], auth: { method: 'delegated', tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID } },
        { name: 'scanner', mailbox: SCANNER, auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID } },
      ],
    });
    // The relay runs inside the Secret Service's session; the administrator's commands below do not.
    const relay = await RelayProcess.start({ config, dir, env: secretServiceEnv(home), wrap: WITH_SECRET_SERVICE });
    relayPid = Number(relay.logs[0]?.pid);
    expect(relay.logs.some((line) => line.level === 40 && String(line.msg).includes('file'))).toBe(false);

    const stored = await runProcess(process.execPath, [RELAY_CLI, 'secret', 'set', '--account', 'scanner', '--config', relay.configFile], { input: `${tenant.clientSecret}\n` });
    expect(stored).toMatchObject({ code: 0, stdout: expect.stringContaining("running relay's key store") });

    const login = runProcess(process.execPath, [RELAY_CLI, 'login', '--account', 'sage', '--device-code', '--config', relay.configFile]);
    const deadline = Date.now() + 30_000;
    let userCode: string | undefined;
    while (userCode === undefined && Date.now() < deadline) {
      userCode = tenant.identity.pendingDeviceCodes()[0];
      if (userCode === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(userCode).toBeDefined();
    tenant.identity.approveDeviceCode(userCode!);
    expect(await login).toMatchObject({ code: 0, stdout: expect.stringContaining(`Signed in as ${MOCK_MAILBOX}`) });

    await send(relay.port, MOCK_SEND_AS, 'via-delegated-token');
    await send(relay.port, SCANNER, 'via-app-only-secret');
    const received = await tenant.upstream.waitForMessages(2, 30_000);
    expect(received.map((message) => message.mailbox).sort()).toEqual([MOCK_MAILBOX, SCANNER]);

    process.kill(relayPid, 'SIGTERM');
    await relay.exit;

    // The keys are in the keychain, not in files; nothing secret is in plain text anywhere.
    const names = (await readdir(dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(dataDir, join(e.parentPath, e.name)));
    expect(names).toEqual(expect.arrayContaining(['tokens/sage.msal.sealed', 'secrets/scanner.client-secret.sealed', 'logs/relay.log']));
    expect(names.filter((name) => name.startsWith('keys/'))).toEqual([]);
    const secrets = [tenant.clientSecret, ...tenant.identity.refreshTokens(MOCK_MAILBOX).map((token) => token.value), ...received.map((message) => message.token)];
    for (const name of names) {
      const bytes = await readFile(join(dataDir, name));
      for (const secret of secrets) expect(bytes.includes(Buffer.from(secret)), `${name} holds a secret or token`).toBe(false);
    }
  });
});
