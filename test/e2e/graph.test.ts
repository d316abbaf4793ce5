/**
 * Delivery through Microsoft Graph, end to end: real SMTP clients (swaks, Python's smtplib) talk
 * to the real relay process, which sends through the mock tenant's Graph stand-in with tokens from
 * the mock identity provider. What the stand-in "sent" is compared with what the client handed
 * over: byte for byte for sendMail with MIME; header by header and attachment by attachment
 * (SHA-256) for the draft path with upload sessions.
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GRAPH_AUDIENCE, GRAPH_MAIL_SEND } from '../mock-tenant/identity-provider.js';
import { EXCHANGE_REPLIES, MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_MAILBOX, MOCK_SEND_AS, MOCK_TENANT_ID, startMockTenant, type MockTenant, type RelayConfigInput } from '../mock-tenant/index.js';
import { RelayProcess, RELAY_CLI } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { requireToolUnderCi, systemTool } from '../support/system-tool.js';
import { addresses, parseSent, sendWithPython, sha256 } from './graph-messages.js';
import { withoutReceived } from '../inbound/trace-field.js';

const swaks = systemTool('swaks', ['swaks', '--version'], 'apt-get install swaks');
const python = systemTool('python3', ['python3', '-c', 'import smtplib, email.policy'], 'apt-get install python3');

const CRLF = '\r\n';
const RECIPIENT = 'customer@fabrikam.example';
const MB = 1_000_000;
/** Size of the large test's PDF; GRAPH_E2E_PDF_MB=100 measures a larger one (listen.maxMessageBytes is raised to fit). */
const PDF_MB = Number(process.env.GRAPH_E2E_PDF_MB ?? 25);

type AccountInput = RelayConfigInput['accounts'][number];

function account(extra: Partial<AccountInput> = {}): AccountInput {
  return {
    name: 'sage',
    mailbox: MOCK_MAILBOX,
    sendAs: [MOCK_SEND_AS],
    auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID, clientSecret: MOCK_CLIENT_SECRET },
    upstream: 'graph',
    ...extra,
  };
}

/** A plain MIME message of about `bytes`, as a script would hand it to swaks. */
function plainMessage(bytes: number, subject: string): string {
  const line = 'Invoice line 10042: 1 x consulting, 1.250,00 EUR; thank you for your order.';
  const lines = Array.from({ length: Math.ceil(bytes / (line.length + 2)) }, (_, i) => `${String(i).padStart(5, '0')} ${line}`);
  return [
    'From: Sage 200 <invoices@contoso.example>',
    `To: ${RECIPIENT}`,
    `Subject: ${subject}`,
    'Date: Mon, 23 Nov 2026 10:00:00 +0100',
    'Message-ID: <graph-plain-20077@contoso.example>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...lines,
  ].join(CRLF);
}

/** Resident memory of a process (Linux /proc: VmRSS now, VmHWM the peak so far), in MB. */
async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status === undefined ? undefined : new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
  return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
}

/** Samples VmRSS every 20 ms while `work` runs; the largest sample taken while `busy()` holds. */
async function sampleRss<T>(pid: number, busy: () => boolean, work: Promise<T>): Promise<{ result: T; peakMb: number | undefined }> {
  let peakMb: number | undefined;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const now = await rssMb(pid, 'VmRSS');
      if (now !== undefined && busy()) peakMb = Math.max(peakMb ?? 0, now);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    return { result: await work, peakMb };
  } finally {
    done = true;
    await sampling;
  }
}

describe('delivery through Microsoft Graph', () => {
  let dir: string;
  let tenant: MockTenant;
  let relay: RelayProcess | undefined;

  async function start(accounts: AccountInput[], overrides: Partial<RelayConfigInput> = {}): Promise<RelayProcess> {
    dir = await mkdtemp(join(tmpdir(), 'e2e-graph-'));
    tenant = await startMockTenant({ graph: true });
    relay = await RelayProcess.start({ config: tenant.relayConfig(join(dir, 'data'), { listen: { port: 0 }, accounts, ...overrides }), dir });
    return relay;
  }

  async function swaksSend(port: number, content: string): Promise<void> {
    const file = join(dir, 'message.eml');
    await writeFile(file, content);
    const result = await runProcess('swaks', ['--server', '127.0.0.1', '--port', String(port), '--from', MOCK_SEND_AS, '--to', RECIPIENT, '--data', `@${file}`, '--timeout', '60']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  }

  afterEach(async () => {
    await relay?.kill('SIGTERM');
    relay = undefined;
    await tenant?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe.skipIf(!swaks.available)('swaks', () => {
    it('sends a 10 KB message as MIME through sendMail, byte for byte, with an app-only Graph token', async () => {
      const process = await start([account()]);
      const content = plainMessage(10_000, 'Invoice 20077 (Graph)');

      await swaksSend(process.port, content);

      const graph = tenant.graph!;
      await graph.waitForSent(1);
      const [sent] = graph.sent;
      expect(sent!.via).toBe('mime');
      // Byte for byte, after the Received field the relay puts in front (RFC 5321 4.4).
      expect(withoutReceived(sent!.mime).toString('latin1')).toBe(`${content}${CRLF}`);
      expect(sent!.recipients).toEqual({ to: [RECIPIENT], cc: [], bcc: [] });
      expect(sent!.saveToSentItems).toBe(true);
      expect(sent!.claims.aud).toBe(GRAPH_AUDIENCE);
      expect(sent!.claims.roles).toContain(GRAPH_MAIL_SEND);
      await process.waitForLog((line) => line.msg === 'message delivered');
      expect(String(process.linesWith('message delivered')[0]?.response)).toContain('Microsoft Graph (sendMail (MIME))');
    });

    it('honours 429 with Retry-After: 5 without a bounce, then delivers', async () => {
      const process = await start([account()]);
      tenant.graph!.failNext({ on: 'sendMail', status: 429, code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.', retryAfterSeconds: 5 });

      await swaksSend(process.port, plainMessage(2_000, 'Throttled once'));

      await tenant.graph!.waitForSent(1, 60_000);
      await process.waitForLog((line) => line.msg === 'message delivered');
      const paused = await process.waitForLog((line) => line.msg === 'account paused');
      expect(paused.condition).toBe('http-throttled');
      const sendMails = tenant.graph!.requests.filter((request) => request.operation === 'sendMail');
      expect(sendMails.map((request) => request.status)).toEqual([429, 202]);
      // Retry-After is a minimum: the second attempt came no sooner.
      expect(sendMails[1]!.startedAt - sendMails[0]!.endedAt).toBeGreaterThanOrEqual(4_900);
      await process.waitForLog((line) => line.msg === 'message delivered');
      expect(process.linesWith('delivery status notification queued')).toHaveLength(0);
      expect(tenant.graph!.sent.map((sent) => sent.recipients.to)).toEqual([[RECIPIENT]]);
    }, 60_000);

    it('ErrorSendAsDenied fails the message with exactly one DSN to the sender', async () => {
      // The relay may send as billing@, the tenant has not granted Send As for it.
      const process = await start([account({ sendAs: [MOCK_SEND_AS, 'billing@contoso.example'] })]);
      const content = plainMessage(1_000, 'Not allowed').replace('From: Sage 200 <invoices@contoso.example>', 'From: billing@contoso.example');
      const file = join(dir, 'message.eml');
      await writeFile(file, content);
      const result = await runProcess('swaks', ['--server', '127.0.0.1', '--port', String(process.port), '--from', 'billing@contoso.example', '--to', RECIPIENT, '--data', `@${file}`]);
      expect(result.code, result.stdout).toBe(0);

      await process.waitForLog((line) => line.msg === 'message refused permanently');
      // The DSN goes out through Graph too, from the mailbox to billing@.
      await tenant.graph!.waitForSent(1);
      await process.waitForLog((line) => line.msg === 'message delivered');
      expect(process.linesWith('delivery status notification queued')).toHaveLength(1);
      const refused = process.linesWith('message refused permanently')[0]!;
      expect(refused.condition).toBe('graph-send-as-denied');
      expect(String(refused.reply)).toContain('ErrorSendAsDenied');
      expect(tenant.graph!.sent).toHaveLength(1);
      const dsn = await parseSent(tenant.graph!.sent[0]!.mime);
      expect(tenant.graph!.sent[0]!.recipients.to).toEqual(['billing@contoso.example']);
      expect(dsn.text ?? '').toMatch(/5\.7\.60/);
      expect(tenant.graph!.requests.filter((request) => request.operation === 'sendMail' && request.status === 403)).toHaveLength(1);
    });

    it('falls back to Graph when Exchange answers 535 5.7.139, and says so in status', async () => {
      const process = await start([account({ upstream: 'smtp', graphFallback: true })]);
      tenant.upstream.script({ phase: 'auth', reply: EXCHANGE_REPLIES.smtpAuthDisabledForMailbox, times: 10 });

      await swaksSend(process.port, plainMessage(5_000, 'SMTP AUTH is off'));

      await tenant.graph!.waitForSent(1);
      await process.waitForLog((line) => line.msg === 'message delivered');
      expect(process.linesWith('SMTP AUTH disabled; falling back to Microsoft Graph')).toHaveLength(1);
      expect(tenant.upstream.messages).toHaveLength(0);
      expect(tenant.graph!.sent[0]!.claims.aud).toBe(GRAPH_AUDIENCE);
      const status = await runProcess(globalThis.process.execPath, [RELAY_CLI, 'status', '--json', '--config', process.configFile], { timeoutMs: 30_000 });
      const report = JSON.parse(status.stdout) as { warnings: string[] };
      expect(report.warnings.join('\n')).toMatch(/sage: SMTP AUTH is disabled .*5\.7\.139.*delivering through Microsoft Graph instead/);
      const text = await runProcess(globalThis.process.execPath, [RELAY_CLI, 'status', '--config', process.configFile], { timeoutMs: 30_000 });
      expect(text.stdout).toContain('delivering through Microsoft Graph instead');
    });
  });

  describe.skipIf(!python.available)('Python smtplib', () => {
    async function expectSameMessage(kind: string, sent: { logo: string; pdf: string }): Promise<void> {
      const [delivered] = tenant.graph!.sent;
      expect(delivered!.via).toBe('draft');
      const mail = await parseSent(delivered!.mime);
      expect(mail.subject).toBe('Invoice 10042 \u2013 Rechnung f\u00fcr M\u00fcller');
      expect(addresses(mail.from)).toEqual(['Sage 100 <invoices@contoso.example>']);
      expect(addresses(mail.to)).toEqual(['Customer <customer@fabrikam.example>']);
      expect(addresses(mail.cc)).toEqual(['<accounts@fabrikam.example>']);
      expect(addresses(mail.replyTo)).toEqual(['Accounts <accounts@contoso.example>']);
      expect(mail.messageId).toBe(`<graph-${kind}-10042@contoso.example>`);
      expect(mail.headers.get('x-mailer')).toBe('Sage 100 2026.1');
      // smtplib kept the Bcc in the envelope only; Graph must still deliver to it.
      expect(delivered!.recipients).toEqual({ to: [RECIPIENT], cc: ['accounts@fabrikam.example'], bcc: ['archive@contoso.example'] });
      const pdf = mail.attachments.find((attachment) => attachment.filename === 'invoice-10042.pdf');
      const logo = mail.attachments.find((attachment) => attachment.filename === 'logo.png');
      expect(pdf && sha256(pdf.content)).toBe(sent.pdf);
      expect(pdf?.contentType).toBe('application/pdf');
      expect(logo && sha256(logo.content)).toBe(sent.logo);
      expect(logo?.cid).toBe('logo-10042@contoso.example');
      expect(logo?.related).toBe(true);
      expect(mail.html).toContain('src="cid:logo-10042@contoso.example"');
      expect(tenant.graph!.openDrafts).toBe(0);
    }

    it('sends a 3.5 MB message as a draft (headers, inline image, attachment intact)', async () => {
      const process = await start([account()]);
      const sent = await sendWithPython({ kind: 'medium', port: process.port, pdfBytes: 2_600_000 });
      expect(sent.size).toBeGreaterThan(3.5 * MB);

      await tenant.graph!.waitForSent(1);
      await expectSameMessage('medium', sent);
      const operations = tenant.graph!.requests.map((request) => request.operation);
      expect(operations).toEqual(['createMessage', 'addAttachment', 'addAttachment', 'send']);
      expect(Math.max(...tenant.graph!.requests.map((request) => request.bytes))).toBeLessThan(4 * 1024 * 1024);
    }, 120_000);

    it(`sends a ${Math.round(PDF_MB * 1.37)} MB message with a ${PDF_MB} MB PDF through an upload session, attachment byte for byte`, async () => {
      const process = await start([account()], PDF_MB > 25 ? { listen: { port: 0, maxMessageBytes: 150 * 1024 * 1024 } } : {});
      const pid = process.child.pid!;
      const idleMb = await rssMb(pid, 'VmRSS');
      const sent = await sendWithPython({ kind: 'large', port: process.port, pdfBytes: PDF_MB * MB });
      expect(sent.size).toBeGreaterThan(30 * MB);
      const afterIntakeMb = await rssMb(pid, 'VmHWM');

      // "While sending": from the draft's creation until Graph has the message.
      const sending = () => tenant.graph!.requests.length > 0 || tenant.graph!.openDrafts > 0;
      const { peakMb: sendingMb } = await sampleRss(pid, sending, tenant.graph!.waitForSent(1, 240_000));
      await expectSameMessage('large', sent);
      const requests = tenant.graph!.requests;
      const chunks = requests.filter((request) => request.operation === 'uploadChunk');
      expect(chunks.length).toBeGreaterThan(1);
      // No bearer token goes to the pre-authorized upload URL; every chunk but the last is a multiple of 320 KiB.
      expect(chunks.every((request) => !request.authorization && request.status < 300)).toBe(true);
      expect(chunks.slice(0, -1).every((request) => request.bytes % (320 * 1024) === 0)).toBe(true);
      expect(Math.max(...requests.map((request) => request.bytes))).toBeLessThan(4 * 1024 * 1024);
      expect(tenant.graph!.peakConcurrency).toBeLessThanOrEqual(4);

      const session = requests.find((request) => request.operation === 'createUploadSession')!;
      const seconds = (chunks[chunks.length - 1]!.endedAt - session.startedAt) / 1000;
      const perMb = seconds / PDF_MB;
      const total = (requests[requests.length - 1]!.endedAt - requests[0]!.startedAt) / 1000;
      console.log(
        `graph upload: ${sent.size} bytes message, ${PDF_MB} MB attachment in ${chunks.length} chunks, ${perMb.toFixed(3)} s/MB (whole draft path ${total.toFixed(2)} s); ` +
          `relay RSS: idle ${idleMb ?? '?'} MB, peak through intake ${afterIntakeMb ?? '?'} MB, peak while sending ${sendingMb ?? '?'} MB`,
      );
      // Streaming from the spool file: sending adds about one upload chunk, never copies of 34 MB.
      if (sendingMb !== undefined && idleMb !== undefined) expect(sendingMb - idleMb).toBeLessThan(100);
    }, 300_000);
  });
});

requireToolUnderCi(swaks);
requireToolUnderCi(python);
