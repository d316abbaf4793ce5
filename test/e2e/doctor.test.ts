/**
 * `doctor` and `send-test` through the real CLI against the mock tenant: a healthy tenant passes
 * every check without a message reaching Exchange (but with an AUTH); 535 5.7.139, 535 5.7.3, a
 * certificate from another CA and a closed port each give their fix; send-test reports the queue
 * id and the outcome, and the Send As fix for 5.7.60.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestCertificates, EXCHANGE_REPLIES, MOCK_CLIENT_ID, MOCK_MAILBOX, MOCK_SEND_AS, writeCaFile, type RelayConfigInput } from '../mock-tenant/index.js';
import { RELAY_CLI } from '../support/relay-process.js';
import { runProcess, type ProcessResult } from '../support/run-process.js';
import { FaultFixture, RECIPIENT } from './fault-fixture.js';

const CLI = RELAY_CLI;

describe('doctor and send-test, end to end', () => {
  let fixture: FaultFixture | undefined;

  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  async function doctor(overrides: Partial<RelayConfigInput> = {}, args: readonly string[] = []): Promise<ProcessResult> {
    fixture ??= await FaultFixture.create();
    const configFile = join(fixture.dir, 'doctor.json');
    await writeFile(configFile, JSON.stringify(fixture.config(overrides), null, 2));
    return runProcess(process.execPath, [CLI, 'doctor', '--config', configFile, ...args], { cwd: fixture.dir, timeoutMs: 60_000 });
  }

  it('passes every check against a healthy tenant, authenticates and sends no mail', async () => {
    fixture = await FaultFixture.create();
    const result = await doctor();
    expect(result.stdout).not.toMatch(/^FAIL/m);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    for (const check of ['config', 'smtp-port', 'key-store', 'upstream-tls', 'token \\[sage\\]', 'auth \\[sage\\]', 'senders \\[sage\\]']) {
      expect(result.stdout).toMatch(new RegExp(`^PASS  ${check}`, 'm'));
    }
    expect(result.stdout).toContain(`Exchange accepted AUTH XOAUTH2 as ${MOCK_MAILBOX}`);
    // An AUTH really happened (the fake counts authenticated connections), and no MAIL FROM.
    expect(fixture.tenant.upstream.maxConcurrency(MOCK_MAILBOX)).toBe(1);
    expect(fixture.tenant.upstream.authFailures).toBe(0);
    expect(fixture.tenant.upstream.messages).toHaveLength(0);
  });

  it('prints the checks as JSON with --json', async () => {
    fixture = await FaultFixture.create();
    const result = await doctor({}, ['--json', '--account', 'sage']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { version: number; ok: boolean; checks: Array<{ check: string; status: string }> };
    expect(report.version).toBe(1);
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.check === 'auth')?.status).toBe('pass');
  });

  it('gives the Set-CASMailbox line when Exchange answers 535 5.7.139', async () => {
    fixture = await FaultFixture.create();
    fixture.tenant.upstream.script({ phase: 'auth', reply: EXCHANGE_REPLIES.smtpAuthDisabledForMailbox, times: 10 });
    const result = await doctor();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL  auth \[sage\].*5\.7\.139/m);
    expect(result.stdout).toContain(`fix: In Exchange Online PowerShell run: Set-CASMailbox -Identity ${MOCK_MAILBOX} -SmtpClientAuthenticationDisabled $false`);
    expect(result.stdout).toContain('Set-TransportConfig -SmtpClientAuthenticationDisabled $false');
    expect(fixture.tenant.upstream.messages).toHaveLength(0);
  });

  it('gives the app-only permission lines when Exchange answers 535 5.7.3', async () => {
    fixture = await FaultFixture.create();
    fixture.tenant.upstream.script({ phase: 'auth', reply: EXCHANGE_REPLIES.authenticationUnsuccessful, times: 10 });
    const result = await doctor();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL  auth \[sage\].*5\.7\.3/m);
    expect(result.stdout).toContain(`New-ServicePrincipal -AppId ${MOCK_CLIENT_ID}`);
    expect(result.stdout).toContain(`Add-MailboxPermission -Identity ${MOCK_MAILBOX} -User <service principal id> -AccessRights FullAccess`);
  });

  it('gives the certificate fix when the upstream certificate comes from another CA', async () => {
    fixture = await FaultFixture.create();
    const otherCa = await writeCaFile(await createTestCertificates(), join(fixture.dir, 'other-ca'));
    const result = await doctor({ upstream: { caFile: otherCa } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL  upstream-tls/m);
    expect(result.stdout).toContain('fix: The certificate of 127.0.0.1 is not trusted');
    expect(result.stdout).toContain('upstream.caFile');
    // The token still comes: the identity provider's CA is right.
    expect(result.stdout).toMatch(/^PASS  token \[sage\]/m);
    expect(result.stdout).toMatch(/^SKIP  auth \[sage\]/m);
  });

  it('gives the reachability fix for a closed port', async () => {
    fixture = await FaultFixture.create();
    const port = await closedPort();
    const result = await doctor({ upstream: { port } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL  upstream-tls .*ECONNREFUSED/m);
    expect(result.stdout).toContain(`fix: Cannot reach 127.0.0.1:${port}: check DNS, the firewall (outbound TCP ${port})`);
  });

  it('fails the config check with the problems, and says when the port belongs to another program', async () => {
    fixture = await FaultFixture.create();
    const bad = await doctor({ listen: { port: 0, host: '127.0.0.1', maxRecipients: -1 } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL  config .*listen\.maxRecipients/m);

    const other = createServer();
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const port = (other.address() as AddressInfo).port;
    try {
      const busy = await doctor({ listen: { port } });
      expect(busy.code).toBe(1);
      expect(busy.stdout).toMatch(new RegExp(`^FAIL  smtp-port +another program listens on 127\\.0\\.0\\.1:${port}`, 'm'));
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('send-test reports the queue id and the delivery; doctor sees the port is the relay\'s own', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay();
    const result = await runProcess(process.execPath, [CLI, 'send-test', '--to', RECIPIENT, '--config', relay.configFile], { cwd: fixture.dir, timeoutMs: 60_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const id = /queued as (\S+)/.exec(result.stdout)?.[1];
    expect(id).toBeDefined();
    expect(result.stdout).toContain(`Delivered: ${id}`);
    const received = fixture.tenant.upstream.messages;
    expect(received).toHaveLength(1);
    expect(received[0]?.rcptTo).toEqual([RECIPIENT]);
    expect(received[0]?.raw.toString()).toContain('Subject: smtp-oauth-relay test message');

    const checked = await runProcess(process.execPath, [CLI, 'doctor', '--config', relay.configFile], { cwd: fixture.dir, timeoutMs: 60_000 });
    expect(checked.stdout).toMatch(new RegExp(`^PASS  smtp-port +.*in use by this relay, pid ${relay.child.pid}`, 'm'));
  });

  it('send-test exits 1 with the Send As fix when Exchange answers 5.7.60', async () => {
    fixture = await FaultFixture.create();
    fixture.tenant.upstream.script({ phase: 'mail', reply: EXCHANGE_REPLIES.sendAsDenied, match: (context) => context.mailFrom === MOCK_SEND_AS });
    const relay = await fixture.startRelay();
    const result = await runProcess(process.execPath, [CLI, 'send-test', '--to', RECIPIENT, '--from', MOCK_SEND_AS, '--config', relay.configFile], {
      cwd: fixture.dir,
      timeoutMs: 60_000,
    });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/queued as \S+/);
    expect(result.stdout).toMatch(/^Failed: .*5\.7\.60/m);
    expect(result.stdout).toContain(`fix: Give ${MOCK_MAILBOX} the Send As right on the sender address`);
  });

  it('send-test says clearly that the relay is not running', async () => {
    fixture = await FaultFixture.create();
    const configFile = join(fixture.dir, 'relay.json');
    await writeFile(configFile, JSON.stringify(fixture.config()));
    const result = await runProcess(process.execPath, [CLI, 'send-test', '--to', RECIPIENT, '--config', configFile], { cwd: fixture.dir, timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('The relay is not running');
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
