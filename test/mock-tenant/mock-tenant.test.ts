import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:https';
import nodemailer from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, type ClosableTokenProvider } from '../../src/auth/index.js';
import { configSchema } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { DROP_DURING_DATA, EXCHANGE_REPLIES, MOCK_MAILBOX, MOCK_SEND_AS, startMockTenant, type MockTenant } from './index.js';
import { SmtpWire } from '../support/smtp-wire.js';

let tenant: MockTenant;
let tokens: ClosableTokenProvider;
let token: string;
let dataDir: string;
const dialogs: SmtpWire[] = [];

beforeAll(async () => {
  tenant = await startMockTenant();
  dataDir = await mkdtemp(join(tmpdir(), 'mock-tenant-test-'));
  const config = configSchema.parse(tenant.relayConfig(dataDir));
  const account = config.accounts[0];
  if (account === undefined) throw new Error('relayConfig has no account');
  tokens = createTokenProvider(account, config.identity, { logger: silentLogger() });
  token = (await tokens.getToken()).token;
});

afterEach(() => {
  for (const dialog of dialogs.splice(0)) dialog.close();
  tenant.upstream.clearScripts();
});

afterAll(async () => {
  tokens.close();
  await tenant.close();
  await rm(dataDir, { recursive: true, force: true });
});

function transport() {
  return nodemailer.createTransport({
    host: tenant.upstream.host,
    port: tenant.upstream.port,
    secure: false,
    requireTLS: true,
    tls: { ca: tenant.caPem, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    auth: { type: 'OAuth2', user: MOCK_MAILBOX, accessToken: token },
  });
}

/** A connection to the mock Exchange, past its greeting. */
async function openDialog(): Promise<SmtpWire> {
  const dialog = await SmtpWire.open(tenant.upstream.port);
  dialogs.push(dialog);
  await dialog.expect(dialog.reply(), 220);
  return dialog;
}

async function openSecured(): Promise<SmtpWire> {
  const dialog = await openDialog();
  await dialog.secure(tenant.caPem);
  return dialog;
}

describe('certificates', () => {
  it('are verified by Node with only the test CA, and refused without it', async () => {
    const fetchStatus = (ca?: string) =>
      new Promise<number>((resolve, reject) => {
        get(`${tenant.authorityHost}/${tenant.tenantId}/v2.0/.well-known/openid-configuration`, { ca, rejectUnauthorized: true }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
    expect(await fetchStatus(tenant.caPem)).toBe(200);
    await expect(fetchStatus()).rejects.toThrow(/certificate/);
    expect(await readFile(tenant.caFile, 'utf8')).toBe(tenant.caPem);
  });
});

describe('relayConfig', () => {
  it('is valid against the configuration schema and points at this tenant', () => {
    const config = configSchema.parse(tenant.relayConfig(dataDir, { listen: { port: 2599 } }));
    expect(config.upstream).toMatchObject({ host: '127.0.0.1', port: tenant.upstream.port, caFile: tenant.caFile });
    expect(config.identity).toEqual({ authorityHost: tenant.authorityHost, caFile: tenant.caFile });
    expect(config.accounts[0]?.sendAs).toEqual([MOCK_SEND_AS]);
    expect(config.listen.port).toBe(2599);
  });
});

describe('mock Exchange', () => {
  it('takes a message over STARTTLS + XOAUTH2 from nodemailer and records it byte for byte', async () => {
    const before = tenant.upstream.messages.length;
    // CRLF line endings, a line that starts with a dot (dot-stuffed on the wire, RFC 5321 4.5.2), 8-bit text.
    const raw = Buffer.from(
      'From: invoices@contoso.example\r\nTo: customer@fabrikam.example\r\nSubject: Invoice 42\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
        'Total: 12 €\r\n.leading dot\r\n..two dots\r\nend\r\n',
      'utf8',
    );
    const info = await transport().sendMail({
      envelope: { from: MOCK_SEND_AS, to: ['customer@fabrikam.example', 'copy@fabrikam.example'] },
      raw,
    });
    expect(info.response).toMatch(/^250 2\.6\.0 /);
    const messages = await tenant.upstream.waitForMessages(before + 1, 5_000);
    const received = messages[before];
    expect(received?.raw.equals(raw)).toBe(true);
    expect(received).toMatchObject({
      mailbox: MOCK_MAILBOX,
      mailFrom: MOCK_SEND_AS,
      rcptTo: ['customer@fabrikam.example', 'copy@fabrikam.example'],
    });
    expect(received?.claims).toMatchObject({ aud: 'https://outlook.office365.com', roles: ['SMTP.SendAsApp'], tid: tenant.tenantId });
  });

  it('answers 235 2.7.0 to a good token and 535 5.7.3 to a token with the wrong audience', async () => {
    const good = await openSecured();
    expect(await good.authXoauth2(MOCK_MAILBOX, token)).toMatchObject({ code: 235, text: '235 2.7.0 Authentication successful' });

    const graphToken = await tenant.identity.signToken({ aud: 'https://graph.microsoft.com', roles: ['SMTP.SendAsApp'], tid: tenant.tenantId });
    const bad = await openSecured();
    const reply = await bad.authXoauth2(MOCK_MAILBOX, graphToken);
    expect(reply.text).toBe('535 5.7.3 Authentication unsuccessful');
  });

  it('refuses a valid token for a mailbox the tenant does not know', async () => {
    const dialog = await openSecured();
    expect((await dialog.authXoauth2('nobody@contoso.example', token)).text).toBe('535 5.7.3 Authentication unsuccessful');
  });

  it('does not offer or accept AUTH before STARTTLS, and offers it after', async () => {
    const dialog = await openDialog();
    const ehlo = await dialog.command('EHLO client.test');
    expect(ehlo.text).toContain('STARTTLS');
    expect(ehlo.text).not.toContain('AUTH');
    const auth = await dialog.authXoauth2(MOCK_MAILBOX, token);
    expect(auth.code).toBeGreaterThanOrEqual(500);

    const again = await openDialog();
    expect((await again.secure(tenant.caPem)).text).toContain('AUTH XOAUTH2');
  });

  it('refuses a 4th concurrent connection of one mailbox with 432 4.3.2 and counts it', async () => {
    const refusalsBefore = tenant.upstream.concurrencyRefusals;
    const held = [await openSecured(), await openSecured(), await openSecured()];
    for (const dialog of held) expect((await dialog.authXoauth2(MOCK_MAILBOX, token)).code).toBe(235);
    const fourth = await openSecured();
    expect((await fourth.authXoauth2(MOCK_MAILBOX, token)).text).toBe('432 4.3.2 Concurrent connections limit exceeded');
    expect(tenant.upstream.concurrencyRefusals).toBe(refusalsBefore + 1);
    expect(tenant.upstream.maxConcurrency(MOCK_MAILBOX)).toBe(3);

    // Once one connection ends, the mailbox may connect again.
    const first = held[0];
    first?.close();
    await first?.closed;
    await vi.waitFor(() => expect(tenant.upstream.activeConnections(MOCK_MAILBOX)).toBe(2));
    const fifth = await openSecured();
    expect((await fifth.authXoauth2(MOCK_MAILBOX, token)).code).toBe(235);
  });

  it('returns scripted replies at MAIL FROM and per recipient, then goes back to normal', async () => {
    tenant.upstream.script({ phase: 'mail', reply: EXCHANGE_REPLIES.sendAsDenied });
    tenant.upstream.script({
      phase: 'rcpt',
      reply: EXCHANGE_REPLIES.recipientNotFound,
      times: Infinity,
      match: (context) => context.rcptTo === 'gone@fabrikam.example',
    });
    const mail = { from: MOCK_SEND_AS, to: 'customer@fabrikam.example', subject: 'Invoice', text: 'Hello' };
    await expect(transport().sendMail(mail)).rejects.toMatchObject({
      responseCode: 550,
      response: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
    });
    const partial = await transport().sendMail({ ...mail, to: ['customer@fabrikam.example', 'gone@fabrikam.example'] });
    expect(partial.accepted).toEqual(['customer@fabrikam.example']);
    expect(partial.rejected).toEqual(['gone@fabrikam.example']);
    expect(partial.rejectedErrors?.[0]?.message).toContain('550 5.1.10 RESOLVER.ADR.RecipientNotFound');
  });

  it('can drop the connection in the middle of DATA without storing the message', async () => {
    const before = tenant.upstream.messages.length;
    tenant.upstream.script(DROP_DURING_DATA);
    await expect(
      transport().sendMail({ from: MOCK_SEND_AS, to: 'customer@fabrikam.example', subject: 'x', text: 'y'.repeat(100_000) }),
    ).rejects.toThrow();
    expect(tenant.upstream.messages.length).toBe(before);
  });

  it('goes down and comes back on the same port', async () => {
    const port = tenant.upstream.port;
    const open = await openSecured();
    await tenant.upstream.down();
    await open.closed;
    await expect(SmtpWire.open(port)).rejects.toThrow(/ECONNREFUSED/);
    await tenant.upstream.up();
    expect(tenant.upstream.port).toBe(port);
    const info = await transport().sendMail({ from: MOCK_SEND_AS, to: 'customer@fabrikam.example', subject: 'back', text: 'up' });
    expect(info.response).toMatch(/^250 /);
  });
});

describe('mock Exchange rate limit', () => {
  it('answers 432 4.3.2 at MAIL FROM once the rate is exceeded', async () => {
    const limited = await startMockTenant({ rate: { messages: 2, perSeconds: 3600 } });
    try {
      const config = configSchema.parse(limited.relayConfig(dataDir));
      const provider = createTokenProvider(config.accounts[0]!, config.identity, { logger: silentLogger() });
      const send = async () =>
        nodemailer
          .createTransport({
            host: limited.upstream.host,
            port: limited.upstream.port,
            requireTLS: true,
            tls: { ca: limited.caPem },
            auth: { type: 'OAuth2', user: MOCK_MAILBOX, accessToken: (await provider.getToken()).token },
          })
          .sendMail({ from: MOCK_SEND_AS, to: 'customer@fabrikam.example', subject: 's', text: 't' });
      await send();
      await send();
      await expect(send()).rejects.toMatchObject({ response: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' });
      expect(limited.upstream.rateRefusals).toBe(1);
      expect(limited.upstream.acceptedAt(MOCK_MAILBOX)).toHaveLength(2);
      provider.close();
    } finally {
      await limited.close();
    }
  });
});
