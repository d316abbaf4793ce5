/**
 * App-only sign-in with a certificate instead of a client secret: the real MSAL signs a client
 * assertion with the private key, the mock identity provider checks its signature against the
 * certificate registered on the app (x5t#S256), and the real relay process delivers through the
 * Graph stand-in with the token. A certificate that expires in 10 days raises the expiry warning.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenProvider } from '../../src/auth/index.js';
import { configSchema } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { SignInRequiredError } from '../../src/core/token.js';
import { GRAPH_AUDIENCE, GRAPH_MAIL_SEND } from '../mock-tenant/identity-provider.js';
import { MOCK_CLIENT_ID, MOCK_MAILBOX, MOCK_SEND_AS, MOCK_TENANT_ID, startMockTenant, type MockTenant, type RelayConfigInput } from '../mock-tenant/index.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { SmtpWire } from '../support/smtp-wire.js';

const DAY_MS = 24 * 3600_000;

/** An RSA certificate as an app registration takes it (Entra wants RSA), valid for `days`. */
async function appCertificate(dir: string, name: string, days: number): Promise<{ certificateFile: string; privateKeyFile: string; pem: string }> {
  const now = Date.now();
  const made = await generate([{ name: 'commonName', value: `smtp-oauth-relay ${name}` }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - DAY_MS),
    notAfterDate: new Date(now + days * DAY_MS),
  });
  const certificateFile = join(dir, `${name}.crt.pem`);
  const privateKeyFile = join(dir, `${name}.key.pem`);
  await writeFile(certificateFile, made.cert);
  await writeFile(privateKeyFile, made.private, { mode: 0o600 });
  return { certificateFile, privateKeyFile, pem: made.cert };
}

async function sendOne(port: number): Promise<void> {
  const client = await SmtpWire.open(port);
  await client.expect(client.reply(), 220);
  await client.expect(client.command('EHLO sage-server'), 250);
  await client.expect(client.command(`MAIL FROM:<${MOCK_SEND_AS}>`), 250);
  await client.expect(client.command('RCPT TO:<customer@fabrikam.example>'), 250);
  await client.expect(client.command('DATA'), 354);
  await client.expect(client.command('From: invoices@contoso.example\r\nTo: customer@fabrikam.example\r\nSubject: signed with a certificate\r\n\r\nHello.\r\n.'), 250);
  await client.command('QUIT');
}

describe('certificate credentials for app-only accounts', () => {
  let dir: string;
  let tenant: MockTenant | undefined;
  let relay: RelayProcess | undefined;

  afterEach(async () => {
    await relay?.kill('SIGTERM');
    relay = undefined;
    await tenant?.close();
    tenant = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  function certificateAccount(files: { certificateFile: string; privateKeyFile?: string }): RelayConfigInput['accounts'][number] {
    return {
      name: 'sage',
      mailbox: MOCK_MAILBOX,
      sendAs: [MOCK_SEND_AS],
      auth: {
        method: 'client-credentials',
        tenantId: MOCK_TENANT_ID,
        clientId: MOCK_CLIENT_ID,
        certificateFile: files.certificateFile,
        ...(files.privateKeyFile === undefined ? {} : { privateKeyFile: files.privateKeyFile }),
      },
      upstream: 'graph',
    };
  }

  it('gets a token with the certificate, delivers through Graph, and warns 10 days before it expires', async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-graph-cert-'));
    const certificate = await appCertificate(dir, 'app', 10);
    tenant = await startMockTenant({ graph: true, clientCertificatePem: certificate.pem });
    const config = tenant.relayConfig(join(dir, 'data'), {
      listen: { port: 0 },
      accounts: [certificateAccount(certificate)],
      alerts: { notify: ['admin@contoso.example'] },
    });
    relay = await RelayProcess.start({ config, dir });

    const warning = await relay.waitForLog((line) => line.kind === 'client-certificate-expiry');
    expect(warning.thresholdDays).toBe(14);
    expect(Math.round(Number(warning.daysLeft))).toBe(10);
    expect(warning.msg).toMatch(/certificate of account "sage".*expires on .*in 10 days/);

    await sendOne(relay.port);

    // The invoice and the administrator's notice, both through Graph with the certificate's token.
    await tenant.graph!.waitForSent(2);
    const invoice = tenant.graph!.sent.find((sent) => sent.recipients.to.includes('customer@fabrikam.example'));
    const notice = tenant.graph!.sent.find((sent) => sent.recipients.to.includes('admin@contoso.example'));
    expect(invoice?.claims.aud).toBe(GRAPH_AUDIENCE);
    expect(invoice?.claims.roles).toContain(GRAPH_MAIL_SEND);
    expect(notice?.mime.toString('utf8')).toMatch(/certificate/i);

    // doctor names the credential (never the key) and knows a Graph account has no SMTP AUTH to check.
    const doctor = await runProcess(process.execPath, [RELAY_CLI, 'doctor', '--config', relay.configFile], { cwd: dir, timeoutMs: 60_000 });
    expect(doctor.stdout).toMatch(/with a certificate \(.*app\.crt\.pem, SHA-256 [0-9a-f]{64}, expires \d{4}-\d{2}-\d{2}\) with its private key from .*app\.key\.pem/);
    expect(doctor.stdout).toContain('sends through Microsoft Graph');
    expect(doctor.stdout).not.toContain('PRIVATE KEY');
  });

  it('is refused by Entra when the key belongs to a certificate the app does not have (AADSTS700027)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-graph-cert-'));
    const registered = await appCertificate(dir, 'registered', 365);
    const other = await appCertificate(dir, 'other', 365);
    tenant = await startMockTenant({ clientCertificatePem: registered.pem });
    const config = configSchema.parse(tenant.relayConfig(join(dir, 'data'), { accounts: [certificateAccount(other)] }));
    const provider = createTokenProvider(config.accounts[0]!, config.identity, { logger: silentLogger() });
    try {
      const refused = await provider.getToken().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(SignInRequiredError);
      expect((refused as SignInRequiredError).aadstsCode).toBe('AADSTS700027');

      // With the registered one, the same tenant answers with a token.
      const good = createTokenProvider(configSchema.parse(tenant.relayConfig(join(dir, 'data'), { accounts: [certificateAccount(registered)] })).accounts[0]!, config.identity, { logger: silentLogger() });
      await expect(good.getToken()).resolves.toMatchObject({ token: expect.any(String) });
      good.close();
    } finally {
      provider.close();
    }
  });

  it('takes the private key sealed by `secret set` (no key file), then delivers', async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-graph-cert-'));
    const certificate = await appCertificate(dir, 'app', 365);
    tenant = await startMockTenant({ graph: true, clientCertificatePem: certificate.pem });
    const config = tenant.relayConfig(join(dir, 'data'), {
      listen: { port: 0 },
      accounts: [certificateAccount({ certificateFile: certificate.certificateFile })],
      secrets: { keyStore: 'file' },
    });
    relay = await RelayProcess.start({ config, dir });
    const key = await readFile(certificate.privateKeyFile, 'utf8');
    await rm(certificate.privateKeyFile);

    const stored = await runProcess(process.execPath, [RELAY_CLI, 'secret', 'set', '--account', 'sage', '--config', relay.configFile], { input: key });
    expect(stored.code, stored.stderr).toBe(0);
    await sendOne(relay.port);

    await tenant.graph!.waitForSent(1);
    expect(tenant.graph!.sent[0]!.claims.roles).toContain(GRAPH_MAIL_SEND);
    // The key is sealed, not kept in plain text in the data folder.
    const sealed = await readFile(join(dir, 'data', 'secrets', 'sage.client-secret.sealed'));
    expect(sealed.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
  });

  it('refuses a private key file that other users can read', async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-graph-cert-'));
    const certificate = await appCertificate(dir, 'app', 365);
    await chmod(certificate.privateKeyFile, 0o644);
    tenant = await startMockTenant({ clientCertificatePem: certificate.pem });
    const config = configSchema.parse(tenant.relayConfig(join(dir, 'data'), { accounts: [certificateAccount(certificate)] }));
    const provider = createTokenProvider(config.accounts[0]!, config.identity, { logger: silentLogger() });
    try {
      await expect(provider.getToken()).rejects.toThrow(/may be read by other users \(mode 644\).*chmod 600/);
      expect(tenant.identity.tokenRequests).toBe(0);
    } finally {
      provider.close();
    }
  });
});
