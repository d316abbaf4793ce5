/**
 * The real nodemailer pool against a real smtp-server on 127.0.0.1: STARTTLS with a test CA
 * given through upstream.caFile, AUTH XOAUTH2 with tokens from a TokenProvider.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../core/config.js';
import { QUEUE_RECORD_VERSION, type QueueRecord } from '../core/queue-record.js';
import { SignInRequiredError, type AccessToken, type TokenProvider } from '../core/token.js';
import { classifyReply } from './reply-classification.js';
import { UpstreamTransport } from './upstream-transport.js';

const MAILBOX = 'sage@contoso.com';
const EML = 'From: sage@contoso.com\r\nTo: a@fabrikam.com\r\nSubject: Invoice 42\r\n\r\nPlease find attached.\r\n';

interface ServerLog {
  auths: Array<{ username: string | undefined; accessToken: string | undefined; secure: boolean }>;
  messages: Array<{ from: string; to: string[]; body: string }>;
}

/** Scripted token provider: hands out tok-1, tok-2, ... and remembers every request. */
class CountingTokens implements TokenProvider {
  readonly requests: Array<{ forceRefresh: boolean }> = [];
  failWith: Error | undefined;
  private issued = 0;

  /** Another sign-in (logout, then login as someone else): the provider hands out a new token. */
  signInAgain(): void {
    this.issued += 1;
  }

  async getToken(options?: { forceRefresh?: boolean }): Promise<AccessToken> {
    this.requests.push({ forceRefresh: options?.forceRefresh === true });
    if (this.failWith !== undefined) throw this.failWith;
    if (this.issued === 0 || options?.forceRefresh === true) this.issued += 1;
    return { token: `tok-${this.issued}`, expiresAt: Date.now() + 3600_000 };
  }
}

describe('UpstreamTransport', () => {
  let dir: string;
  let caFile: string;
  let server: SMTPServer;
  let port: number;
  let log: ServerLog;
  let acceptedToken: string;
  let authReply: 'oauth-challenge' | 'exchange-535';
  let transport: UpstreamTransport | undefined;
  let pems: { private: string; cert: string };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'upstream-'));
    pems = await generate([{ name: 'commonName', value: 'smtp.test' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
    });
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, pems.cert);
    await writeFile(join(dir, 'm1.eml'), EML);
    server = new SMTPServer({
      key: pems.private,
      cert: pems.cert,
      authMethods: ['XOAUTH2'],
      logger: false,
      onAuth(auth, session, callback) {
        log.auths.push({ username: auth.username, accessToken: auth.accessToken, secure: session.secure });
        if (auth.accessToken === acceptedToken) return callback(null, { user: auth.username });
        if (authReply === 'exchange-535') {
          return callback(Object.assign(new Error('5.7.3 Authentication unsuccessful'), { responseCode: 535 }));
        }
        // RFC 7628-style challenge (as Google does): 334 + JSON, then 535 after the empty reply.
        return callback(null, { data: { status: '401', schemes: 'bearer' } });
      },
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('nobody@')) {
          return callback(Object.assign(new Error('5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found'), { responseCode: 550 }));
        }
        if (address.address.startsWith('later@')) {
          return callback(Object.assign(new Error('4.2.1 Mailbox temporarily unavailable'), { responseCode: 451 }));
        }
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          log.messages.push({
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            body: Buffer.concat(chunks).toString('utf8'),
          });
          callback(null, '2.0.0 OK queued as TEST1');
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    log = { auths: [], messages: [] };
    acceptedToken = 'tok-1';
    authReply = 'oauth-challenge';
  });

  afterEach(() => {
    transport?.close();
    transport = undefined;
  });

  function configWith(upstream: Record<string, unknown>): Config {
    return configSchema.parse({
      accounts: [{ name: 'sage', mailbox: MAILBOX, auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecretEnv: 'S' } }],
      upstream: { host: '127.0.0.1', port, connectionTimeoutSeconds: 5, ...upstream },
    });
  }

  function makeTransport(tokens: TokenProvider, upstream: Record<string, unknown> = { caFile }): UpstreamTransport {
    const config = configWith(upstream);
    transport = new UpstreamTransport({
      upstream: config.upstream,
      account: config.accounts[0]!,
      tokens,
      messageFile: (queued) => ({ path: join(dir, `${queued.id}.eml`), size: queued.size }),
    });
    return transport;
  }

  const record = (to: string[], id = 'm1'): QueueRecord => ({
    version: QUEUE_RECORD_VERSION,
    id,
    kind: 'message',
    account: 'sage',
    receivedAt: new Date().toISOString(),
    client: { address: '127.0.0.1' },
    mailFrom: MAILBOX,
    size: Buffer.byteLength(EML),
    recipients: to.map((address) => ({ address, status: 'pending' })),
    attempts: 0,
    nextAttemptAt: new Date().toISOString(),
  });

  it('sends over STARTTLS with XOAUTH2 user=<mailbox> and the bearer token, streaming the .eml unchanged', async () => {
    const tokens = new CountingTokens();
    const result = await makeTransport(tokens).send(record(['a@fabrikam.com']), ['a@fabrikam.com']);
    expect(result).toMatchObject({ kind: 'sent', accepted: ['a@fabrikam.com'], rejected: [] });
    expect(result.kind === 'sent' && result.response).toContain('250 2.0.0 OK queued as TEST1');
    expect(log.auths).toEqual([{ username: MAILBOX, accessToken: 'tok-1', secure: true }]);
    expect(log.messages).toHaveLength(1);
    expect(log.messages[0]).toMatchObject({ from: MAILBOX, to: ['a@fabrikam.com'] });
    expect(log.messages[0]?.body).toBe(EML);
  });

  it('sends only the first size bytes of the file, never what the spool keeps after the message', async () => {
    await writeFile(join(dir, 'm2.eml'), `${EML}\n{"not":"part of the message"}\n`);
    const result = await makeTransport(new CountingTokens()).send(record(['a@fabrikam.com'], 'm2'), ['a@fabrikam.com']);
    expect(result.kind).toBe('sent');
    expect(log.messages).toHaveLength(1);
    expect(log.messages[0]?.body).toBe(EML);
  });

  it('asks for a renewed token when the server refuses one (renew), then succeeds', async () => {
    acceptedToken = 'tok-2';
    const tokens = new CountingTokens();
    const result = await makeTransport(tokens).send(record(['a@fabrikam.com']), ['a@fabrikam.com']);
    expect(result.kind).toBe('sent');
    expect(tokens.requests).toEqual([{ forceRefresh: false }, { forceRefresh: true }]);
    expect(log.auths.map((a) => a.accessToken)).toEqual(['tok-1', 'tok-2']);
  });

  it("reports Exchange's 535 5.7.3 as a reply the catalogue holds the account for after one new token, and forces a refresh when asked", async () => {
    acceptedToken = 'never';
    authReply = 'exchange-535';
    const tokens = new CountingTokens();
    const sender = makeTransport(tokens);
    const refused = await sender.send(record(['a@fabrikam.com']), ['a@fabrikam.com']);
    expect(refused.kind).toBe('failed');
    if (refused.kind !== 'failed') return;
    expect(refused.reply.code).toBe(535);
    expect(classifyReply(refused.reply)).toMatchObject({ action: 'keep', event: 'sign-in-refused', refreshTokenFirst: true });

    acceptedToken = 'tok-2';
    const retried = await sender.send(record(['a@fabrikam.com']), ['a@fabrikam.com'], { forceTokenRefresh: true });
    expect(retried.kind).toBe('sent');
    expect(tokens.requests.at(-1)).toEqual({ forceRefresh: true });
  });

  it('after a new sign-in the next message goes out with the new token, not over a connection authenticated with the old one', async () => {
    const tokens = new CountingTokens();
    const sender = makeTransport(tokens);
    acceptedToken = 'tok-1';
    expect((await sender.send(record(['a@fabrikam.com']), ['a@fabrikam.com'])).kind).toBe('sent');
    tokens.signInAgain();
    acceptedToken = 'tok-2';
    expect((await sender.send(record(['a@fabrikam.com']), ['a@fabrikam.com'])).kind).toBe('sent');
    expect(log.auths.map((a) => a.accessToken)).toEqual(['tok-1', 'tok-2']);
    expect(log.messages).toHaveLength(2);
    // The same token again: the pooled connection is reused, no new AUTH.
    expect((await sender.send(record(['a@fabrikam.com']), ['a@fabrikam.com'])).kind).toBe('sent');
    expect(log.auths).toHaveLength(2);
  });

  it('returns accepted and rejected recipients with their own replies', async () => {
    const tokens = new CountingTokens();
    const sender = makeTransport(tokens);
    const to = ['a@fabrikam.com', 'nobody@fabrikam.com', 'later@fabrikam.com'];
    const result = await sender.send(record(to), to);
    expect(result.kind).toBe('sent');
    if (result.kind !== 'sent') return;
    expect(result.accepted).toEqual(['a@fabrikam.com']);
    expect(result.rejected.map((r) => [r.address, r.reply.code])).toEqual([
      ['nobody@fabrikam.com', 550],
      ['later@fabrikam.com', 451],
    ]);
    expect(result.rejected[0]?.reply.text).toContain('5.1.10');
    expect(log.messages[0]?.to).toEqual(['a@fabrikam.com']);

    const none = await sender.send(record(['nobody@fabrikam.com']), ['nobody@fabrikam.com']);
    expect(none.kind).toBe('rejected');
    expect(none.kind === 'rejected' && none.rejected[0]?.reply.code).toBe(550);
  });

  it('refuses TLS when the certificate is not trusted, before any token leaves', async () => {
    const tokens = new CountingTokens();
    const result = await makeTransport(tokens, {}).send(record(['a@fabrikam.com']), ['a@fabrikam.com']);
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    expect(result.reply.code).toBeUndefined();
    expect(result.reply.errorCode).toBe('ETLS');
    expect(result.reply.text).toContain('certificate');
    // Never a bounce: the message stays, the account waits (and is held after a few tries).
    expect(classifyReply(result.reply)).toMatchObject({ action: 'keep', event: 'tls-failed' });
    expect(log.auths).toEqual([]);
    expect(tokens.requests).toEqual([]);
  });

  it('tells a sign-in problem from a token service outage', async () => {
    const tokens = new CountingTokens();
    tokens.failWith = new SignInRequiredError('AADSTS7000215: Invalid client secret provided.', 'AADSTS7000215');
    const first = await makeTransport(tokens).send(record(['a@fabrikam.com']), ['a@fabrikam.com']);
    expect(first).toEqual({ kind: 'sign-in-required', reason: 'AADSTS7000215: Invalid client secret provided.' });
    transport?.close();

    const outage = new CountingTokens();
    outage.failWith = new TypeError('fetch failed');
    const second = await makeTransport(outage).send(record(['a@fabrikam.com']), ['a@fabrikam.com']);
    expect(second).toEqual({ kind: 'token-unavailable', reason: 'fetch failed' });
    expect(log.messages).toEqual([]);
  });

  it('keeps the minimum TLS version when an extra CA is trusted (one secure context per transport)', async () => {
    // The secure context built once from caFile replaces tls.connect's own options: minVersion must be in it.
    const tls12Only = new SMTPServer({ key: pems.private, cert: pems.cert, maxVersion: 'TLSv1.2', authMethods: ['XOAUTH2'], logger: false });
    // The failed handshake is reported as a server 'error' event too: expected here.
    tls12Only.on('error', () => undefined);
    await new Promise<void>((resolve) => tls12Only.listen(0, '127.0.0.1', resolve));
    try {
      const tls12Port = (tls12Only.server.address() as AddressInfo).port;
      const tokens = new CountingTokens();
      const result = await makeTransport(tokens, { caFile, port: tls12Port, minTlsVersion: 'TLSv1.3' }).send(record(['a@fabrikam.com']), ['a@fabrikam.com']);
      expect(result.kind).toBe('failed');
      if (result.kind !== 'failed') return;
      expect(result.reply.code).toBeUndefined();
      expect(result.reply.text).toMatch(/version/i);
      expect(tokens.requests).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => tls12Only.close(() => resolve()));
    }
  });
});
