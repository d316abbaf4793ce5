/**
 * Local TLS and AUTH with the clients legacy programs use, through the real relay to the mock
 * Exchange: swaks with STARTTLS (--tls) and implicit TLS (--tlsc), AUTH PLAIN and LOGIN, and
 * Python smtplib with starttls() + login() the way Sage's "SMTP with authentication and
 * SSL/TLS" settings drive it. Users are written to users.json as `user add` writes them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, usersFilePath } from '../../src/inbound/local-users.js';
import { MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_MAILBOX, MOCK_MAILBOXES, MOCK_SEND_AS, MOCK_TENANT_ID, startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { requireToolUnderCi, systemTool } from '../support/system-tool.js';

const swaks = systemTool('swaks', ['swaks', '--version'], 'apt-get install swaks');
const python = systemTool('python3', ['python3', '-c', 'import smtplib, ssl'], 'apt-get install python3');
const RECIPIENT = 'customer@fabrikam.example';
const SCANNER_MAILBOX = MOCK_MAILBOXES[1];

/** Sage: SMTP server, port, "use SSL/TLS" (STARTTLS), user name and password; the certificate is the relay's own. */
const SAGE_LIKE_CLIENT = String.raw`
import json, smtplib, ssl, sys
from email.message import EmailMessage
spec = json.loads(sys.argv[1])
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
msg = EmailMessage()
msg['From'] = 'Sage 50 <' + spec['from'] + '>'
msg['To'] = spec['to']
msg['Subject'] = 'Invoice 30001'
msg.set_content('Invoice attached.\n')
smtp = smtplib.SMTP('127.0.0.1', spec['port'], timeout=60)
smtp.ehlo()
smtp.starttls(context=context)
smtp.ehlo()
try:
    smtp.login(spec['user'], spec['password'])
    smtp.send_message(msg)
    print(json.dumps({'ok': True}))
except smtplib.SMTPException as e:
    print(json.dumps({'ok': False, 'code': getattr(e, 'smtp_code', None), 'error': str(getattr(e, 'smtp_error', e))}))
smtp.quit()
`;

describe('local TLS and AUTH with real clients', () => {
  let dir: string;
  let tenant: MockTenant;
  let relay: RelayProcess;
  let implicitPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-local-auth-'));
    tenant = await startMockTenant();
    const dataDir = join(dir, 'data');
    const users = usersFilePath(dataDir);
    await addUser(users, 'sage-user', 'Sage-Pa55', { account: 'sage' });
    await addUser(users, 'scan-user', 'Scan-Pa55', { account: 'scanner', rewriteSender: true });
    const base = tenant.relayConfig(dataDir, { listen: { port: 0, tls: { implicitTlsPort: 0 } } as never });
    const sage = (base as { accounts: object[] }).accounts[0];
    const scanner = {
      name: 'scanner',
      mailbox: SCANNER_MAILBOX,
      auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID, clientSecret: MOCK_CLIENT_SECRET },
    };
    relay = await RelayProcess.start({ config: { ...base, accounts: [sage, scanner] }, dir });
    const implicit = await relay.waitForLog((line) => line.msg === 'listening for SMTP with implicit TLS');
    implicitPort = Number(implicit.port);
  }, 60_000);

  afterAll(async () => {
    await relay?.kill('SIGTERM');
    await tenant?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const swaksArgs = (port: number, from: string, extra: readonly string[]): string[] => [
    '--server', '127.0.0.1', '--port', String(port), '--from', from, '--to', RECIPIENT, '--timeout', '60', ...extra,
  ];

  describe.skipIf(!swaks.available)('swaks', () => {
    it('STARTTLS + AUTH PLAIN: delivered upstream as the user\'s account', async () => {
      const before = tenant.upstream.messages.length;
      const result = await runProcess('swaks', swaksArgs(relay.port, MOCK_SEND_AS, ['--tls', '-a', 'PLAIN', '-au', 'sage-user', '-ap', 'Sage-Pa55']));
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/<~ {2}235 /);
      const received = await tenant.upstream.waitForMessages(before + 1, 30_000);
      expect(received.at(-1)?.mailbox).toBe(MOCK_MAILBOX);
      expect(received.at(-1)?.mailFrom).toBe(MOCK_SEND_AS);
    });

    it('implicit TLS + AUTH LOGIN', async () => {
      const before = tenant.upstream.messages.length;
      const result = await runProcess('swaks', swaksArgs(implicitPort, MOCK_MAILBOX, ['--tlsc', '-a', 'LOGIN', '-au', 'sage-user', '-ap', 'Sage-Pa55']));
      expect(result.code, result.stdout + result.stderr).toBe(0);
      await tenant.upstream.waitForMessages(before + 1, 30_000);
    });

    it('wrong password: 535 5.7.8; and a user cannot send as another account\'s mailbox', async () => {
      const wrong = await runProcess('swaks', swaksArgs(relay.port, MOCK_SEND_AS, ['--tls', '-a', 'PLAIN', '-au', 'sage-user', '-ap', 'nope']));
      // swaks exit code 28: "error in AUTH" (swaks(1), EXIT CODES).
      expect(wrong.code).toBe(28);
      expect(wrong.stdout).toMatch(/<~\* 535 5\.7\.8 Authentication credentials invalid/);

      const foreign = await runProcess('swaks', swaksArgs(relay.port, SCANNER_MAILBOX, ['--tls', '-a', 'PLAIN', '-au', 'sage-user', '-ap', 'Sage-Pa55']));
      expect(foreign.code).toBe(23);
      expect(foreign.stdout).toMatch(/<~\* 550 5\.7\.1 /);
    });

    it('a rewriteSender user: envelope and From become the mailbox, display name kept, Reply-To added', async () => {
      const before = tenant.upstream.messages.length;
      const result = await runProcess(
        'swaks',
        swaksArgs(relay.port, 'scan@printer.local', [
          '--tls', '-a', 'PLAIN', '-au', 'scan-user', '-ap', 'Scan-Pa55',
          '--header', 'From: "Scanner 3rd floor" <scan@printer.local>',
        ]),
      );
      expect(result.code, result.stdout + result.stderr).toBe(0);
      const received = (await tenant.upstream.waitForMessages(before + 1, 30_000)).at(-1);
      expect(received?.mailbox).toBe(SCANNER_MAILBOX);
      expect(received?.mailFrom).toBe(SCANNER_MAILBOX);
      const raw = received?.raw.toString('latin1') ?? '';
      expect(raw).toContain(`From: "Scanner 3rd floor" <${SCANNER_MAILBOX}>\r\n`);
      expect(raw).toContain('Reply-To: <scan@printer.local>\r\n');
      expect(relay.linesWith('sender rewritten').at(-1)).toMatchObject({ from: 'scan@printer.local', to: SCANNER_MAILBOX });
    });
  });
  requireToolUnderCi(swaks);

  describe.skipIf(!python.available)('Python smtplib like Sage', () => {
    it('starttls() + login() + send_message() is delivered; a wrong password gets 535', async () => {
      const before = tenant.upstream.messages.length;
      const spec = { port: relay.port, from: MOCK_SEND_AS, to: RECIPIENT, user: 'sage-user', password: 'Sage-Pa55' };
      const ok = await runProcess('python3', ['-c', SAGE_LIKE_CLIENT, JSON.stringify(spec)]);
      expect(JSON.parse(ok.stdout), ok.stderr).toEqual({ ok: true });
      await tenant.upstream.waitForMessages(before + 1, 30_000);

      const bad = await runProcess('python3', ['-c', SAGE_LIKE_CLIENT, JSON.stringify({ ...spec, password: 'wrong' })]);
      expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, code: 535 });
    });
  });
  requireToolUnderCi(python);
});
