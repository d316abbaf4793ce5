/**
 * Legacy clients as they are really configured, against the real relay process and the mock
 * Exchange: curl (smtp:// and smtps://), msmtp (what scripts and cron jobs use), and a printer
 * that only knows HELO (RFC 5321 4.1.1.1: a server must still accept it). What each client put
 * on the wire (before dot-stuffing, RFC 5321 4.5.2) must arrive upstream byte for byte.
 *
 * The TLS and AUTH cases use listen.tls, listen.auth and local users (users.json); they run
 * when the configuration schema knows those names (LOCAL_TLS_AND_AUTH below).
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addUser, usersFilePath } from '../../src/inbound/local-users.js';
import { MOCK_MAILBOX, MOCK_SEND_AS, startMockTenant, type MockTenant, type ReceivedMessage, type RelayConfigInput } from '../mock-tenant/index.js';
import { withoutReceived } from '../inbound/trace-field.js';
import { RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { requireToolUnderCi, systemTool } from '../support/system-tool.js';
import { freePort } from '../support/ports.js';

const curl = systemTool('curl', ['curl', '--version'], 'apt-get install curl');
const msmtp = systemTool('msmtp', ['msmtp', '--version'], 'apt-get install msmtp');

const CRLF = '\r\n';
const RECIPIENT = 'customer@fabrikam.example';
const LOCAL_USER = 'sage-app';
const LOCAL_PASSWORD = 'Sage 100: correct horse battery staple';


/** An invoice as a legacy program writes it, with lines that dot-stuffing must protect. */
function invoice(tag: string): string {
  return [
    `From: Sage 100 <${MOCK_SEND_AS}>`,
    `To: ${RECIPIENT}`,
    `Subject: Invoice ${tag}`,
    'Date: Mon, 23 Nov 2026 10:00:00 +0100',
    `Message-ID: <${tag}@sage.contoso.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Dear customer,',
    '.a line that starts with a dot',
    '.',
    '..two dots',
    'Your invoice total is 1,234.50 EUR.',
    '',
  ].join(CRLF);
}

describe('legacy clients through the relay', () => {
  let dir: string;
  let tenant: MockTenant;
  let relay: RelayProcess | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-compat-'));
    tenant = await startMockTenant();
  });

  afterEach(async () => {
    await relay?.kill('SIGTERM');
    relay = undefined;
    await tenant?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const dataDir = (): string => join(dir, 'data');
  /** The certificate the relay generates on first start (listen.tls without certFile). */
  const relayCertificate = (): string => join(dataDir(), 'tls', 'cert.pem');

  const startRelay = async (listen: NonNullable<RelayConfigInput['listen']> = {}): Promise<RelayProcess> => {
    relay = await RelayProcess.start({
      config: tenant.relayConfig(dataDir(), { listen: { port: 0, ...listen }, log: { file: false } }),
      dir,
    });
    return relay;
  };

  /**
   * A local user for the account "sage", written to users.json as `smtp-oauth-relay user add
   * NAME --account sage` writes it; the running relay picks the change up at the next AUTH.
   */
  const addLocalUser = async (): Promise<void> => {
    await addUser(usersFilePath(dataDir()), LOCAL_USER, LOCAL_PASSWORD, { account: 'sage' });
  };

  const received = async (): Promise<ReceivedMessage> => {
    const [message] = await tenant.upstream.waitForMessages(1, 30_000);
    return message!;
  };

  const expectDelivered = async (sent: string): Promise<ReceivedMessage> => {
    const message = await received();
    // The relay puts its Received field in front (RFC 5321 4.4); the rest is what the client sent.
    expect(withoutReceived(message.raw).toString('latin1')).toBe(sent);
    expect(message.mailFrom).toBe(MOCK_SEND_AS);
    expect(message.rcptTo).toEqual([RECIPIENT]);
    // The relay signed in upstream as the account's mailbox.
    expect(message.mailbox).toBe(MOCK_MAILBOX);
    return message;
  };

  describe.skipIf(!curl.available)('curl', () => {
    const sendWithCurl = async (url: string, file: string, extra: readonly string[] = []) =>
      runProcess('curl', ['--silent', '--show-error', '--max-time', '60', '--url', url, '--mail-from', MOCK_SEND_AS, '--mail-rcpt', RECIPIENT, '--upload-file', file, ...extra], {
        timeoutMs: 90_000,
      });

    it('smtp:// without TLS or AUTH, on loopback', async () => {
      const running = await startRelay();
      const file = join(dir, 'invoice.eml');
      await writeFile(file, invoice('curl-plain'));

      // The path of the URL is the EHLO name (curl(1), "SMTP").
      const result = await sendWithCurl(`smtp://127.0.0.1:${running.port}/accounting.contoso.example`, file);

      expect(result.code, result.stderr).toBe(0);
      await expectDelivered(invoice('curl-plain'));
    });

    it('smtp:// with --ssl-reqd (STARTTLS) and AUTH PLAIN as a local user', async () => {
      const running = await startRelay({ tls: { starttls: true }, auth: 'optional' });
      await addLocalUser();
      const file = join(dir, 'invoice.eml');
      await writeFile(file, invoice('curl-starttls'));

      const result = await sendWithCurl(`smtp://127.0.0.1:${running.port}/accounting.contoso.example`, file, [
        '--ssl-reqd',
        '--cacert', relayCertificate(),
        '--user', `${LOCAL_USER}:${LOCAL_PASSWORD}`,
        '--login-options', 'AUTH=PLAIN',
      ]);

      expect(result.code, result.stderr).toBe(0);
      await expectDelivered(invoice('curl-starttls'));
    });

    it('smtps:// (implicit TLS) and AUTH LOGIN as a local user', async () => {
      const implicitTlsPort = await freePort();
      await startRelay({ tls: { implicitTlsPort }, auth: 'optional' });
      await addLocalUser();
      const file = join(dir, 'invoice.eml');
      await writeFile(file, invoice('curl-smtps'));

      const result = await sendWithCurl(`smtps://127.0.0.1:${implicitTlsPort}/accounting.contoso.example`, file, [
        '--cacert', relayCertificate(),
        '--user', `${LOCAL_USER}:${LOCAL_PASSWORD}`,
        '--login-options', 'AUTH=LOGIN',
      ]);

      expect(result.code, result.stderr).toBe(0);
      await expectDelivered(invoice('curl-smtps'));
    });

    it('a wrong local password fails with 535 and nothing is sent', async () => {
      const running = await startRelay({ auth: 'optional' });
      await addLocalUser();
      const file = join(dir, 'invoice.eml');
      await writeFile(file, invoice('curl-wrong'));

      const result = await sendWithCurl(`smtp://127.0.0.1:${running.port}/accounting.contoso.example`, file, [
        '--user', `${LOCAL_USER}:not-the-password`,
        '--login-options', 'AUTH=PLAIN',
        '--verbose',
      ]);

      // curl exit 67: "The user name, password, or similar was not accepted" (curl(1), EXIT CODES).
      expect(result.code).toBe(67);
      // RFC 4954 6: the relay's reply to a wrong password (curl --verbose shows it with "< ").
      expect(result.stderr).toMatch(/^< 535 5\.7\.8 /m);
      expect(tenant.upstream.messages).toHaveLength(0);
      expect(running.linesWith('message accepted')).toHaveLength(0);
    });
  });

  describe.skipIf(!msmtp.available)('msmtp', () => {
    /** msmtp reads its settings from a file it insists is private (mode 0600) when it holds a password. */
    const msmtprc = async (port: number, settings: readonly string[]): Promise<string> => {
      const file = join(dir, 'msmtprc');
      await writeFile(file, ['defaults', 'logfile -', 'syslog off', 'account relay', 'host 127.0.0.1', `port ${port}`, `from ${MOCK_SEND_AS}`, 'domain accounting.contoso.example', ...settings, 'account default : relay', ''].join('\n'));
      await chmod(file, 0o600);
      return file;
    };
    const sendWithMsmtp = (rcfile: string, message: string) =>
      runProcess('msmtp', ['--file', rcfile, '--read-envelope-from', '--', RECIPIENT], { input: message, timeoutMs: 90_000 });

    it('tls off, auth off', async () => {
      const running = await startRelay();
      const rcfile = await msmtprc(running.port, ['tls off', 'auth off']);

      const result = await sendWithMsmtp(rcfile, invoice('msmtp-plain'));

      expect(result.code, result.stdout + result.stderr).toBe(0);
      await expectDelivered(invoice('msmtp-plain'));
    });

    it('tls on (STARTTLS, the relay certificate trusted), auth plain', async () => {
      const running = await startRelay({ tls: { starttls: true }, auth: 'optional' });
      await addLocalUser();
      const rcfile = await msmtprc(running.port, [
        'tls on', 'tls_starttls on', `tls_trust_file ${relayCertificate()}`,
        'auth plain', `user ${LOCAL_USER}`, `password ${LOCAL_PASSWORD}`,
      ]);

      const result = await sendWithMsmtp(rcfile, invoice('msmtp-starttls'));

      expect(result.code, result.stdout + result.stderr).toBe(0);
      await expectDelivered(invoice('msmtp-starttls'));
    });

    it('tls off on loopback, auth login (Sage with "Encryption: None" and a user name)', async () => {
      const running = await startRelay({ auth: 'optional' });
      await addLocalUser();
      const rcfile = await msmtprc(running.port, ['tls off', 'auth login', `user ${LOCAL_USER}`, `password ${LOCAL_PASSWORD}`]);

      const result = await sendWithMsmtp(rcfile, invoice('msmtp-login'));

      expect(result.code, result.stdout + result.stderr).toBe(0);
      await expectDelivered(invoice('msmtp-login'));
    });

    it('auth required: msmtp without credentials is refused with 530, with them it sends', async () => {
      const running = await startRelay({ auth: 'required' });
      await addLocalUser();
      const anonymous = await msmtprc(running.port, ['tls off', 'auth off']);

      const refused = await sendWithMsmtp(anonymous, invoice('msmtp-anonymous'));

      expect(refused.code).not.toBe(0);
      expect(refused.stdout + refused.stderr).toMatch(/530/);
      const withUser = await msmtprc(running.port, ['tls off', 'auth plain', `user ${LOCAL_USER}`, `password ${LOCAL_PASSWORD}`]);
      const sent = await sendWithMsmtp(withUser, invoice('msmtp-required'));
      expect(sent.code, sent.stdout + sent.stderr).toBe(0);
      await expectDelivered(invoice('msmtp-required'));
    });
  });

  describe('a printer that only says HELO', () => {
    /** A scan-to-email message as cheap devices write it: no Date, no Message-ID, an 8-bit body. */
    const SCAN = Buffer.concat([
      Buffer.from([`From: ${MOCK_SEND_AS}`, `To: ${RECIPIENT}`, 'Subject: Scan from MFP-4F', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit', '', 'Gescannt am Empfang, Gr'].join(CRLF), 'latin1'),
      Buffer.from([0xfc, 0xdf, 0x65]),
      Buffer.from(`${CRLF}.page 1 of 1${CRLF}`, 'latin1'),
    ]);

    const printerSession = async (port: number): Promise<string[]> => {
      const wire = await SmtpWire.open(port);
      const replies: string[] = [];
      const step = async (line: string | undefined, code: number): Promise<void> => {
        const reply = await wire.expect(line === undefined ? wire.reply() : wire.command(line), code);
        replies.push(reply.last);
      };
      try {
        await step(undefined, 220);
        await step('HELO MFP-4F', 250);
        await step(`MAIL FROM:<${MOCK_SEND_AS}>`, 250);
        await step(`RCPT TO:<${RECIPIENT}>`, 250);
        await step('DATA', 354);
        wire.write(Buffer.concat([Buffer.from(SCAN.toString('latin1').replace(/^\./gm, '..'), 'latin1'), Buffer.from(`.${CRLF}`)]));
        await step(undefined, 250);
        await step('QUIT', 221);
      } finally {
        wire.close();
      }
      return replies;
    };

    it('HELO, MAIL, RCPT, DATA, QUIT: accepted, and the message arrives with its headers and body unchanged', async () => {
      const running = await startRelay();

      const replies = await printerSession(running.port);

      expect(replies[1]).toMatch(/^250 /);
      expect(replies[5]).toMatch(/^250 2\.0\.0 queued as \S+/);
      const message = await received();
      expect(message.mailFrom).toBe(MOCK_SEND_AS);
      expect(message.mailbox).toBe(MOCK_MAILBOX);
      // What the printer wrote is all there, in order; a submission server may add fields (RFC 6409 8).
      const raw = message.raw;
      const [headerBlock = '', ...bodyParts] = SCAN.toString('latin1').split(`${CRLF}${CRLF}`);
      expect(raw.toString('latin1').endsWith(`${CRLF}${CRLF}${bodyParts.join(`${CRLF}${CRLF}`)}`)).toBe(true);
      for (const field of headerBlock.split(CRLF)) expect(raw.toString('latin1')).toContain(`${field}${CRLF}`);
    });

    it('the relay adds the Date and Message-ID the printer left out (RFC 6409 8.3, 8.4)', async () => {
      const running = await startRelay();

      await printerSession(running.port);

      const headers = (await received()).raw.toString('latin1').split(`${CRLF}${CRLF}`)[0] ?? '';
      expect(headers).toMatch(/^Date: .+\d{2}:\d{2}:\d{2} [+-]\d{4}/im);
      expect(headers).toMatch(/^Message-ID: <[^<>@\s]+@[^<>@\s]+>$/im);
    });
  });
});

// Skipped with the reason on a machine without the tools; a failure under CI=true.
requireToolUnderCi(curl);
requireToolUnderCi(msmtp);
