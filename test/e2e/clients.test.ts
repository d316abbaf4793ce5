/**
 * Real SMTP clients against the real relay process, delivering to the mock Exchange: what the
 * client put on the wire (before dot-stuffing, RFC 5321 4.5.2) must arrive upstream byte for
 * byte, with a valid token. Clients: swaks (Perl) and Python's smtplib, as legacy scripts use.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXCHANGE_APP_AUDIENCE, SEND_AS_APP_ROLE } from '../mock-tenant/identity-provider.js';
import { MOCK_MAILBOX, MOCK_SEND_AS, MOCK_TENANT_ID, startMockTenant, type MockTenant, type ReceivedMessage } from '../mock-tenant/index.js';
import { withoutReceived } from '../inbound/trace-field.js';
import { RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { requireToolUnderCi, systemTool } from '../support/system-tool.js';

const swaks = systemTool('swaks', ['swaks', '--version'], 'apt-get install swaks');
const python = systemTool('python3', ['python3', '-c', 'import smtplib, email.policy'], 'apt-get install python3');

const CRLF = '\r\n';
const RECIPIENT = 'customer@fabrikam.example';

const run = (program: string, args: readonly string[]) => runProcess(program, args);

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** The relay authenticated upstream as the account's mailbox, with a token the mock verified. */
function expectAppToken(message: ReceivedMessage): void {
  expect(message.mailbox).toBe(MOCK_MAILBOX);
  expect(message.claims.aud).toBe(EXCHANGE_APP_AUDIENCE);
  expect(message.claims.tid).toBe(MOCK_TENANT_ID);
  expect(message.claims.roles).toContain(SEND_AS_APP_ROLE);
}

/**
 * Python side: builds a message with the email package, sends it with smtplib, and records the
 * bytes smtplib hands to DATA. smtplib.SMTP.data() then only dot-stuffs them and adds a final
 * CRLF when missing (CPython Lib/smtplib.py), so "recorded + that CRLF" is exactly what went on
 * the wire before dot-stuffing.
 */
const PYTHON_CLIENT = String.raw`
import email.policy, hashlib, json, random, smtplib, sys
from email.message import EmailMessage

spec = json.loads(sys.argv[1])
CRLF = b'\r\n'

class RecordingSMTP(smtplib.SMTP):
    recorded = None
    def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):
        self.recorded = msg if msg.endswith(CRLF) else msg + CRLF
        return super().sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)

def headers(msg, subject, sender='Sage 100 <invoices@contoso.example>', to='customer@fabrikam.example'):
    msg['From'] = sender
    msg['To'] = to
    msg['Subject'] = subject
    msg['Date'] = 'Mon, 23 Nov 2026 10:00:00 +0100'
    msg['Message-ID'] = '<' + spec['kind'] + '-10042@contoso.example>'

kind = spec['kind']
smtp = RecordingSMTP('127.0.0.1', spec['port'], timeout=120)
if kind == 'multipart':
    msg = EmailMessage(policy=email.policy.SMTP)
    headers(msg, 'Invoice 10042')
    msg.set_content('Dear customer,\n.a line that starts with a dot\n.\n..two dots\nand a lone dot above.\n')
    # Every byte value, so a 7-bit or charset conversion anywhere would show.
    msg.add_attachment(bytes(range(256)) * 40 + b'\r\n.\r\n', maintype='application', subtype='pdf', filename='invoice-10042.pdf')
    smtp.send_message(msg)
elif kind == 'eightbit':
    # RFC 6152: an 8-bit body, no transfer encoding, declared with BODY=8BITMIME.
    charset = spec['charset']
    text = 'Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e: 12,50 EUR\r\nGr\u00fc\u00dfe aus K\u00f6ln, \u00bfqu\u00e9 tal?\r\n.\r\n'
    # With Date and Message-ID, as the relay adds them when missing (RFC 6409 8.3, 8.4).
    raw = ('From: invoices@contoso.example\r\nTo: customer@fabrikam.example\r\nSubject: 8-bit body\r\n'
           'Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <eightbit-' + charset + '@contoso.example>\r\n'
           'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=' + charset + '\r\n'
           'Content-Transfer-Encoding: 8bit\r\n\r\n').encode('ascii') + text.encode(charset)
    smtp.ehlo()
    if not smtp.has_extn('8bitmime'):
        sys.exit('the relay does not offer 8BITMIME')
    smtp.sendmail('invoices@contoso.example', ['customer@fabrikam.example'], raw, mail_options=['BODY=8BITMIME'])
elif kind == 'smtputf8':
    # RFC 6531/6532: UTF-8 in the envelope and in header fields, sent raw (no encoded-words).
    msg = EmailMessage(policy=email.policy.SMTPUTF8)
    headers(msg, 'Rechnung f\u00fcr J\u00fcrgen \u2013 10042 \u2713', sender='B\u00fcro M\u00fcller <invoices@contoso.example>', to='Jos\u00e9 <' + spec['rcpt'] + '>')
    msg.set_content('Gr\u00fc\u00dfe aus K\u00f6ln \u2013 \u65e5\u672c\u8a9e\n')
    smtp.ehlo()
    if not smtp.has_extn('smtputf8'):
        sys.exit('the relay does not offer SMTPUTF8')
    smtp.sendmail('invoices@contoso.example', [spec['rcpt']], msg.as_bytes(), mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
elif kind == 'large':
    msg = EmailMessage(policy=email.policy.SMTP)
    headers(msg, 'Scanned documents')
    msg.set_content('The scan is attached.\n')
    msg.add_attachment(random.Random(10042).randbytes(spec['attachmentBytes']), maintype='application', subtype='pdf', filename='scan.pdf')
    smtp.send_message(msg)
smtp.quit()
wire = smtp.recorded
if 'out' in spec:
    open(spec['out'], 'wb').write(wire)
print(json.dumps({'size': len(wire), 'sha256': hashlib.sha256(wire).hexdigest()}))
`;

interface PythonSent {
  readonly size: number;
  readonly sha256: string;
}

async function sendWithPython(spec: Record<string, unknown>): Promise<PythonSent> {
  const result = await run('python3', ['-c', PYTHON_CLIENT, JSON.stringify(spec)]);
  if (result.code !== 0) throw new Error(`python3 exited with ${result.code}:\n${result.stderr}`);
  return JSON.parse(result.stdout) as PythonSent;
}

/** A MIME message with a binary attachment and dot lines, written the way a script would. */
function mimeMessageForSwaks(attachment: Buffer): string {
  const base64Lines = attachment.toString('base64').match(/.{1,76}/g) ?? [];
  return [
    'From: Sage 200 <invoices@contoso.example>',
    `To: ${RECIPIENT}`,
    'Subject: Invoice 20077 (swaks)',
    'Date: Mon, 23 Nov 2026 10:00:00 +0100',
    'Message-ID: <swaks-20077@contoso.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="=-sage-boundary-20077"',
    '',
    '--=-sage-boundary-20077',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Invoice attached.',
    '.a line that starts with a dot',
    '.',
    '..two dots',
    '',
    '--=-sage-boundary-20077',
    'Content-Type: application/pdf; name="invoice-20077.pdf"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="invoice-20077.pdf"',
    '',
    ...base64Lines,
    '--=-sage-boundary-20077--',
  ].join(CRLF);
}

describe('real SMTP clients through the relay', () => {
  let dir: string;
  let tenant: MockTenant;
  let relay: RelayProcess;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-clients-'));
    tenant = await startMockTenant();
    relay = await RelayProcess.start({ config: tenant.relayConfig(join(dir, 'data'), { listen: { port: 0 } }), dir });
  });

  afterEach(async () => {
    await relay?.kill('SIGTERM');
    await tenant?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe.skipIf(!swaks.available)('swaks', () => {
    const swaksTo = (port: number, from: string, extra: readonly string[] = []): string[] => [
      '--server', '127.0.0.1', '--port', String(port), '--from', from, '--to', RECIPIENT, '--timeout', '60', ...extra,
    ];

    it('delivers a MIME message with a binary attachment and dot lines byte for byte', async () => {
      const attachment = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('\r\n.\r\n..\r\n')]);
      const file = join(dir, 'message.eml');
      // Without a final line break: swaks ends the last line itself before the dot.
      const content = mimeMessageForSwaks(Buffer.concat(Array.from({ length: 30 }, () => attachment)));
      await writeFile(file, content);

      const result = await run('swaks', swaksTo(relay.port, MOCK_SEND_AS, ['--data', `@${file}`]));

      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/<- {2}250 2\.0\.0 queued as \S+/);
      // On the wire the dot lines were stuffed (RFC 5321 4.5.2); upstream they are restored.
      expect(result.stdout).toMatch(/^ -> \.\.a line that starts with a dot$/m);
      expect(result.stdout).toMatch(/^ -> \.\.$/m);
      const [received] = await tenant.upstream.waitForMessages(1, 30_000);
      expect(withoutReceived(received!.raw).toString('latin1')).toBe(`${content}${CRLF}`);
      expect(received!.mailFrom).toBe(MOCK_SEND_AS);
      expect(received!.rcptTo).toEqual([RECIPIENT]);
      expectAppToken(received!);
    });

    it('refuses a sender that is not configured at MAIL FROM with 550 5.7.1, then accepts the next valid message', async () => {
      const refused = await run('swaks', swaksTo(relay.port, 'intruder@elsewhere.example'));

      // swaks exit code 23: "error after MAIL FROM" (swaks(1), EXIT CODES).
      expect(refused.code).toBe(23);
      expect(refused.stdout).toMatch(/<\*\* 550 5\.7\.1 Sender <intruder@elsewhere\.example> is not allowed/);
      expect(refused.stdout).not.toMatch(/-> RCPT TO/);

      const accepted = await run('swaks', swaksTo(relay.port, MOCK_SEND_AS));
      expect(accepted.code, accepted.stdout).toBe(0);
      const [received] = await tenant.upstream.waitForMessages(1, 30_000);
      expect(received!.mailFrom).toBe(MOCK_SEND_AS);
      expectAppToken(received!);
      expect(relay.linesWith('message accepted')).toHaveLength(1);
      expect(relay.child.exitCode).toBeNull();
    });
  });

  describe.skipIf(!python.available)('Python smtplib', () => {
    it('delivers a multipart message built by the email package (binary attachment, dot lines) byte for byte', async () => {
      const out = join(dir, 'sent.eml');
      const sent = await sendWithPython({ kind: 'multipart', port: relay.port, out });

      const [received] = await tenant.upstream.waitForMessages(1, 30_000);
      const wire = await readFile(out);
      // Lines that dot-stuffing must protect really are in the message.
      expect(wire.toString('latin1')).toContain('\r\n.a line that starts with a dot\r\n.\r\n..two dots\r\n');
      expect(wire.length).toBe(sent.size);
      expect(withoutReceived(received!.raw).equals(wire)).toBe(true);
      expectAppToken(received!);
    });

    it.each(['iso-8859-1', 'utf-8'])('delivers an 8-bit %s body sent with BODY=8BITMIME unchanged', async (charset) => {
      const out = join(dir, 'sent.eml');
      await sendWithPython({ kind: 'eightbit', charset, port: relay.port, out });

      const [received] = await tenant.upstream.waitForMessages(1, 30_000);
      const wire = await readFile(out);
      // The body really is 8-bit: é is 0xE9 in Latin-1, 0xC3 0xA9 in UTF-8.
      expect(wire.includes(Buffer.from(charset === 'utf-8' ? [0xc3, 0xa9] : [0xe9]))).toBe(true);
      expect(withoutReceived(received!.raw).equals(wire)).toBe(true);
      // RFC 6152: 8-bit data goes upstream declared as such, as it came in.
      expect(received!.bodyType).toBe('8bitmime');
      expectAppToken(received!);
    });

    it('delivers an SMTPUTF8 message (UTF-8 recipient address and header fields) unchanged', async () => {
      const out = join(dir, 'sent.eml');
      const rcpt = 'josé.müller@fabrikam.example';
      await sendWithPython({ kind: 'smtputf8', rcpt, port: relay.port, out });

      const [received] = await tenant.upstream.waitForMessages(1, 30_000);
      const wire = await readFile(out);
      expect(wire.toString('utf8')).toContain('Subject: Rechnung für Jürgen – 10042 ✓');
      expect(received!.rcptTo).toEqual([rcpt]);
      // RFC 6531 3.4: the UTF-8 address travels in an SMTPUTF8 transaction, with an 8-bit body.
      expect(received!.smtpUtf8).toBe(true);
      expect(received!.bodyType).toBe('8bitmime');
      expect(withoutReceived(received!.raw).equals(wire)).toBe(true);
      expectAppToken(received!);
    });

    it('delivers a 30 MB message (22.5 MB binary attachment, base64) intact', async () => {
      // Exchange Online and the relay both accept 35 MiB by default; base64 adds a third, so a
      // 22.5 MB file makes a message of about 30 MB on the wire. Only hashes cross processes.
      const sent = await sendWithPython({ kind: 'large', attachmentBytes: 22_500_000, port: relay.port });

      expect(sent.size).toBeGreaterThan(30_000_000);
      const [received] = await tenant.upstream.waitForMessages(1, 120_000);
      expect(withoutReceived(received!.raw).length).toBe(sent.size);
      expect(sha256(withoutReceived(received!.raw))).toBe(sent.sha256);
      expectAppToken(received!);
    }, 180_000);
  });
});

// Skipped with the reason on a machine without the tools; a failure under CI=true.
requireToolUnderCi(swaks);
requireToolUnderCi(python);
