/**
 * The real GraphSender against the Graph stand-in, with real MSAL tokens from the mock identity
 * provider: each Graph answer becomes the SendResult the scheduler acts on, and the requests
 * Graph sees obey its limits.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, DelegatedTokenProvider, FileKeyStore, type ClosableTokenProvider } from '../../src/auth/index.js';
import { configSchema, type AccountConfig, type Config } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import type { QueueRecord } from '../../src/core/queue-record.js';
import { GraphSender, type GraphSenderOptions } from '../../src/delivery/graph/index.js';
import { UploadBudget } from '../../src/delivery/graph/upload-budget.js';
import { ManualClock } from '../support/manual-clock.js';
import { classifyReply } from '../../src/delivery/reply-classification.js';
import { browserStandIn } from '../auth/delegated-fixture.js';
import { GRAPH_MAIL_SEND } from './identity-provider.js';
import { MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_MAILBOX, MOCK_PUBLIC_CLIENT_ID, MOCK_TENANT_ID, startMockTenant, type MockTenant } from './index.js';

const RECIPIENT = 'customer@fabrikam.example';
let tenant: MockTenant;
let dir: string;
const open: Array<{ close(): void }> = [];

beforeAll(async () => {
  tenant = await startMockTenant({ graph: true });
  dir = await mkdtemp(join(tmpdir(), 'graph-sender-'));
});

afterEach(() => {
  for (const item of open.splice(0)) item.close();
  tenant.graph!.clearScript();
});

afterAll(async () => {
  await tenant.close();
  await rm(dir, { recursive: true, force: true });
});

function configWith(account: Record<string, unknown> = {}, graph: Record<string, unknown> = {}): Config {
  const input = tenant.relayConfig(dir, {
    accounts: [
      {
        name: 'sage',
        mailbox: MOCK_MAILBOX,
        auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID, clientSecret: MOCK_CLIENT_SECRET },
        upstream: 'graph',
        ...account,
      } as never,
    ],
    graph: { ...tenant.relayConfig(dir).graph, ...graph },
  });
  return configSchema.parse(input);
}

function senderFor(config: Config, tokens?: ClosableTokenProvider, extra: Partial<GraphSenderOptions> = {}): GraphSender {
  const account = config.accounts[0] as AccountConfig;
  const provider = tokens ?? createTokenProvider(account, config.identity, { logger: silentLogger() });
  const sender = new GraphSender({ graph: config.graph, account, tokens: provider, messageFile: (record) => ({ path: join(dir, `${record.id}.eml`), size: record.size }), ...extra });
  open.push(provider, sender);
  return sender;
}

/** What the spool keeps in a message's file after its `size` bytes: never part of what is sent. */
const AFTER_MESSAGE = '\n{"not":"part of the message"}\n';

let counter = 0;
async function spooled(raw: string, recipients: string[] = [RECIPIENT], after = ''): Promise<QueueRecord> {
  counter += 1;
  const id = `m${counter}`;
  await writeFile(join(dir, `${id}.eml`), raw + after);
  return {
    version: 1,
    id,
    kind: 'message',
    account: 'sage',
    receivedAt: new Date().toISOString(),
    client: { address: '127.0.0.1' },
    mailFrom: MOCK_MAILBOX,
    size: Buffer.byteLength(raw),
    recipients: recipients.map((address) => ({ address, status: 'pending' as const })),
    attempts: 0,
    nextAttemptAt: new Date().toISOString(),
  };
}

const message = (extra = ''): string => `From: ${MOCK_MAILBOX}\r\nTo: ${RECIPIENT}\r\nSubject: test\r\nMessage-ID: <t${counter}@contoso.example>\r\n${extra}\r\nHello.\r\n`;

describe('GraphSender against the Graph stand-in', () => {
  it('gives Graph only the pending envelope recipients: a Bcc from the envelope is added, the body untouched', async () => {
    const sender = senderFor(configWith());
    const before = tenant.graph!.sent.length;
    const result = await sender.send(await spooled(message()), [RECIPIENT, 'archive@contoso.example']);
    expect(result.kind).toBe('sent');
    const sent = tenant.graph!.sent[before]!;
    expect(sent.recipients).toEqual({ to: [RECIPIENT], cc: [], bcc: ['archive@contoso.example'] });
    expect(sent.mime.toString('latin1')).toMatch(/\r\n\r\nHello\.\r\n$/);
  });

  it.each([
    ['sendMail (MIME)', {}],
    ['sendMail (JSON)', { saveToSentItems: false }],
  ])('%s sends only the first size bytes of the file', async (route, account) => {
    const sender = senderFor(configWith(account));
    const before = tenant.graph!.sent.length;
    const raw = message();
    const result = await sender.send(await spooled(raw, [RECIPIENT], AFTER_MESSAGE), [RECIPIENT]);
    expect(result.kind === 'sent' && result.response).toContain(route);
    const sent = tenant.graph!.sent[before]!;
    expect(sent.mime.toString('latin1')).not.toContain('part of the message');
    if (route === 'sendMail (MIME)') expect(sent.mime.toString('latin1')).toBe(raw);
  });

  it.each<[{ status: number; code: string; retryAfterSeconds?: number }, string, string]>([
    [{ status: 404, code: 'MailboxNotEnabledForRESTAPI' }, 'admin-action-required', 'graph-mailbox-not-rest'],
    [{ status: 400, code: 'ErrorInvalidRecipients' }, 'none', 'graph-invalid-recipients'],
    [{ status: 403, code: 'ErrorSendAsDenied' }, 'none', 'graph-send-as-denied'],
    [{ status: 403, code: 'ErrorAccessDenied' }, 'admin-action-required', 'graph-access-denied'],
    [{ status: 503, code: 'ServiceUnavailable', retryAfterSeconds: 7 }, 'throttled', 'graph-busy'],
    [{ status: 500, code: 'InternalServerError' }, 'none', 'graph-server-error'],
  ])('scripted %o becomes the account event %s', async (step, event, rule) => {
    const sender = senderFor(configWith());
    tenant.graph!.failNext({ on: 'sendMail', ...step });
    const result = await sender.send(await spooled(message()), [RECIPIENT]);
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    const verdict = classifyReply(result.reply);
    expect(verdict).toMatchObject({ event, rule });
    expect(result.reply.text).toContain(step.code);
    // The scheduler pauses for the reply's own Retry-After (src/delivery/account-events.ts).
    if (step.retryAfterSeconds !== undefined) expect(result.reply.retryAfterSeconds).toBe(step.retryAfterSeconds);
  });

  it('a wrong audience is refused with 401, which asks the scheduler for one fresh token first', async () => {
    // The Exchange scope: a valid token, but not for Graph.
    const config = configWith({ auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID, clientSecret: MOCK_CLIENT_SECRET, scope: 'https://outlook.office365.com/.default' } });
    const result = await senderFor(config).send(await spooled(message()), [RECIPIENT]);
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    expect(classifyReply(result.reply)).toMatchObject({ event: 'sign-in-refused', refreshTokenFirst: true, rule: 'graph-token-refused' });
  });

  it("waits for the mailbox's upload budget instead of starting a message that does not fit", async () => {
    const clock = new ManualClock();
    // A budget of 2,000 bytes per minute: the first message (base64 about 300 bytes) fits, the second (about 2,700) not.
    const sender = senderFor(configWith(), undefined, { clock, uploadBudget: new UploadBudget(2_000, 60_000) });
    expect((await sender.send(await spooled(message()), [RECIPIENT])).kind).toBe('sent');
    const requests = tenant.graph!.requests.length;
    await clock.advance(10_000);

    const result = await sender.send(await spooled(message(`X-Filler: ${'x'.repeat(1_800)}\r\n`)), [RECIPIENT]);
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    expect(classifyReply(result.reply)).toMatchObject({ event: 'throttled', rule: 'graph-upload-budget' });
    expect(result.reply.retryAfterSeconds).toBe(50);
    expect(tenant.graph!.requests.length).toBe(requests);
  });

  it('a network error defers (nothing bounced)', async () => {
    const config = configWith({}, { baseUrl: 'https://127.0.0.1:1/v1.0' });
    const result = await senderFor(config).send(await spooled(message()), [RECIPIENT]);
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    expect(classifyReply(result.reply)).toMatchObject({ action: 'defer', rule: 'graph-network-error' });
  });

  it('saveToSentItems false sends JSON with saveToSentItems: false', async () => {
    const sender = senderFor(configWith({ saveToSentItems: false }));
    const before = tenant.graph!.sent.length;
    expect((await sender.send(await spooled(message('X-Invoice: 10042\r\n')), [RECIPIENT])).kind).toBe('sent');
    const sent = tenant.graph!.sent[before]!;
    expect(sent).toMatchObject({ via: 'json', saveToSentItems: false });
    expect(sent.mime.toString('utf8')).toContain('X-Invoice: 10042');
  });

  it('deletes the draft when an attachment upload fails, so a retry leaves nothing behind', async () => {
    const big = Buffer.alloc(3_200_000, 7).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = message(`MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n`).replace('\r\nHello.\r\n', `\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--b\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="a.pdf"\r\n\r\n${big}\r\n--b--\r\n`);
    tenant.graph!.failNext({ on: 'uploadChunk', status: 500, code: 'InternalServerError' });
    const result = await senderFor(configWith()).send(await spooled(raw), [RECIPIENT]);
    expect(result.kind).toBe('failed');
    expect(tenant.graph!.openDrafts).toBe(0);
  });

  it('a delegated account signs in for Graph (Mail.Send, offline_access) with the real MSAL and sends as the mailbox', async () => {
    const config = configSchema.parse(
      tenant.relayConfig(dir, {
        accounts: [{ name: 'sage', mailbox: MOCK_MAILBOX, auth: { method: 'delegated', clientId: MOCK_PUBLIC_CLIENT_ID }, upstream: 'graph' }],
      }),
    );
    const account = config.accounts[0]!;
    expect((account.auth as { scopes: string[] }).scopes).toEqual(['https://graph.microsoft.com/Mail.Send', 'offline_access']);
    const provider = createTokenProvider(account, config.identity, { logger: silentLogger(), dataDir: dir, keyStore: new FileKeyStore(dir) });
    if (!(provider instanceof DelegatedTokenProvider)) throw new Error('expected a delegated provider');
    await provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });

    const before = tenant.graph!.sent.length;
    expect((await senderFor(config, provider).send(await spooled(message()), [RECIPIENT])).kind).toBe('sent');
    const sent = tenant.graph!.sent[before]!;
    expect(sent.claims).toMatchObject({ aud: 'https://graph.microsoft.com', scp: GRAPH_MAIL_SEND, preferred_username: MOCK_MAILBOX });
  });

  it('the stand-in refuses a request over 4 MB with 413, and a token for Exchange with 401', async () => {
    const token = await tenant.identity.signToken({ aud: 'https://graph.microsoft.com', roles: [GRAPH_MAIL_SEND], idtyp: 'app', tid: MOCK_TENANT_ID });
    const exchangeToken = await tenant.identity.signToken({ aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'], idtyp: 'app' });
    const post = (bearer: string, body: Buffer) =>
      new Promise<{ status: number; code: string }>((resolve, reject) => {
        const req = request(`${tenant.graph!.baseUrl}/users/${MOCK_MAILBOX}/sendMail`, { method: 'POST', ca: tenant.caPem, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'text/plain' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(Buffer.concat(chunks).toString()) as { error: { code: string } }).error.code }));
        });
        req.on('error', reject);
        req.end(body);
      });
    expect(await post(token, Buffer.alloc(4 * 1024 * 1024 + 1, 'A'))).toEqual({ status: 413, code: 'RequestEntityTooLarge' });
    expect(await post(exchangeToken, Buffer.from('QQ=='))).toEqual({ status: 401, code: 'InvalidAuthenticationToken' });
  });
});
