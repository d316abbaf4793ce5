/**
 * Local TLS and local AUTH on real sockets: STARTTLS and implicit TLS with our certificate,
 * AUTH PLAIN and LOGIN against users.json, the slowdown after failures (on a ManualClock: we
 * assert the delays asked for and the order of replies, never elapsed time), 'required' and
 * 'accept-any', account binding by user, and sender rewriting.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { QueueRecord } from '../../src/core/queue-record.js';
import { startInbound } from '../../src/inbound/inbound-server.js';
import { generateCertificate } from '../../src/inbound/local-tls.js';
import { addUser, usersFilePath } from '../../src/inbound/local-users.js';
import type { InboundServer } from '../../src/inbound/types.js';
import { ManualClock } from '../support/manual-clock.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { testConfig } from './config.js';
import { FileSink } from './file-sink.js';

const plain = (user: string, password: string): string => `AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

let cert: { certFile: string; keyFile: string; certPem: string };
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'local-tls-'));
  const made = await generateCertificate(['localhost', '127.0.0.1']);
  cert = { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), certPem: made.cert };
  await writeFile(cert.certFile, made.cert);
  await writeFile(cert.keyFile, made.key);
  return () => rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A clock that remembers every delay under a minute asked of it (the AUTH throttle's; the session deadlines are longer). */
class RecordingClock implements Clock {
  readonly delays: number[] = [];
  constructor(readonly manual = new ManualClock()) {}
  now(): number {
    return this.manual.now();
  }
  setTimer(ms: number, callback: () => void): () => void {
    if (ms < 60_000) this.delays.push(ms);
    return this.manual.setTimer(ms, callback);
  }
}

interface Started {
  server: InboundServer;
  sink: FileSink;
  dataDir: string;
  accepted: QueueRecord[];
  clock: RecordingClock;
  wire(port?: number): Promise<SmtpWire>;
}

async function start(listen: Record<string, unknown> = {}, users: (path: string) => Promise<void> = async () => undefined): Promise<Started> {
  const dataDir = await mkdtemp(join(tmpdir(), 'local-auth-'));
  const sink = await FileSink.create(await mkdtemp(join(tmpdir(), 'local-auth-spool-')));
  await users(usersFilePath(dataDir));
  const config = testConfig({ tls: { certFile: cert.certFile, keyFile: cert.keyFile }, ...listen });
  const clock = new RecordingClock();
  const accepted: QueueRecord[] = [];
  const server = await startInbound({
    listen: config.listen,
    accounts: config.accounts,
    sink,
    logger: silentLogger(),
    clock,
    dataDir,
    onAccepted: (record) => accepted.push(record),
  });
  const wires: SmtpWire[] = [];
  cleanups.push(async () => {
    for (const wire of wires) wire.close();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(sink.dir, { recursive: true, force: true });
  });
  return {
    server,
    sink,
    dataDir,
    accepted,
    clock,
    async wire(port = server.address.port) {
      const wire = await SmtpWire.open(port, server.address.host);
      wires.push(wire);
      await wire.expect(wire.reply(), 220);
      return wire;
    },
  };
}

/** Each check is a scrypt hash: slow on a busy machine, so wait generously (no timing is asserted). */
const WAIT = { timeout: 20_000, interval: 20 };

const withSage = (path: string) => addUser(path, 'sage', 'sage-pw', { account: 'sage' });

async function sendMessage(wire: SmtpWire, from: string, message: string): Promise<string> {
  await wire.expect(wire.command(`MAIL FROM:<${from}>`), 250);
  await wire.expect(wire.command('RCPT TO:<someone@example.com>'), 250);
  await wire.expect(wire.command('DATA'), 354);
  return (await wire.command(`${message.replace(/\r?\n/g, '\r\n')}\r\n.`)).last;
}

function tlsHandshake(port: number, options: ConnectionOptions): Promise<{ protocol: string | null; greeting: string }> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ port, host: '127.0.0.1', ca: cert.certPem, servername: 'localhost', ...options });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      socket.once('data', (data: Buffer) => {
        resolve({ protocol: socket.getProtocol(), greeting: data.toString('utf8') });
        socket.destroy();
      });
    });
  });
}

describe('local TLS', () => {
  it('offers STARTTLS and AUTH, and upgrades with the configured certificate', async () => {
    const s = await start({}, withSage);
    const wire = await s.wire();
    const ehlo = await wire.command('EHLO client.test');
    expect(ehlo.lines).toEqual(expect.arrayContaining(['STARTTLS', 'AUTH PLAIN LOGIN']));
    const secured = await wire.secure(cert.certPem);
    expect(secured.lines).not.toContain('STARTTLS');
    expect((await wire.command(plain('sage', 'sage-pw'))).last).toMatch(/^235 /);
  });

  it('listens with implicit TLS on a second port with the same hooks, and greets at once', async () => {
    const s = await start({ tls: { certFile: cert.certFile, keyFile: cert.keyFile, implicitTlsPort: 0 } });
    const port = s.server.implicitTlsAddress?.port;
    expect(port).toBeGreaterThan(0);
    const { protocol, greeting } = await tlsHandshake(port ?? 0, { minVersion: 'TLSv1.2' });
    expect(protocol).toMatch(/^TLSv1\.[23]$/);
    expect(greeting).toMatch(/^220 relay\.test ESMTP/);
  });

  it('refuses TLS 1.0 by default and accepts it when minVersion says so', async () => {
    const old: ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' };
    const strict = await start({ tls: { certFile: cert.certFile, keyFile: cert.keyFile, implicitTlsPort: 0 } });
    await expect(tlsHandshake(strict.server.implicitTlsAddress?.port ?? 0, old)).rejects.toThrow();

    const lenient = await start({ tls: { certFile: cert.certFile, keyFile: cert.keyFile, implicitTlsPort: 0, minVersion: 'TLSv1' } });
    const { protocol } = await tlsHandshake(lenient.server.implicitTlsAddress?.port ?? 0, old);
    expect(protocol).toBe('TLSv1');
  });

  it('makes a certificate on first start into <dataDir>/tls/ with the key 0600, and reuses it', async () => {
    const s = await start({ tls: {} });
    const keyMode = (await stat(join(s.dataDir, 'tls', 'key.pem'))).mode & 0o777;
    // Windows has no POSIX modes (Node reports 0666 for any writable file): there the folder's ACL
    // protects the key, which a mode cannot show.
    if (process.platform !== 'win32') expect(keyMode).toBe(0o600);
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    await wire.expect(wire.command('STARTTLS'), 220);
  });
});

describe('local AUTH', () => {
  it('AUTH PLAIN and LOGIN bind the user to its account: its own addresses pass, another account is refused', async () => {
    const s = await start({}, withSage);
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    await wire.expect(wire.command(plain('sage', 'sage-pw')), 235);
    // scanner@contoso.com belongs to the other account: never for user sage.
    expect((await wire.command('MAIL FROM:<scanner@contoso.com>')).last).toMatch(/^550 5\.7\.1 /);
    const reply = await sendMessage(wire, 'invoices@contoso.com', 'From: Invoices <invoices@contoso.com>\nSubject: x\n\nbody');
    expect(reply).toMatch(/^250 /);
    expect(s.accepted[0]?.account).toBe('sage');

    const login = await s.wire();
    await login.expect(login.command('EHLO client.test'), 250);
    await login.expect(login.command('AUTH LOGIN'), 334);
    await login.expect(login.command(b64('sage')), 334);
    await login.expect(login.command(b64('sage-pw')), 235);
  });

  it("a user's own sendAs narrows the account's addresses", async () => {
    const s = await start({}, (path) => addUser(path, 'billing', 'pw', { account: 'sage', sendAs: ['invoices@contoso.com'] }));
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    await wire.expect(wire.command(plain('billing', 'pw')), 235);
    expect((await wire.command('MAIL FROM:<sage@contoso.com>')).last).toMatch(/^550 5\.7\.1 /);
    await wire.expect(wire.command('MAIL FROM:<Invoices@contoso.com>'), 250);
  });

  it('wrong password: 535 5.7.8; after 3 failures replies wait 1 s, 2 s, 4 s; the 10th failure closes with 421 4.7.0', { timeout: 60_000 }, async () => {
    const s = await start({}, withSage);
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      expect((await wire.command(plain('sage', 'wrong'))).last).toBe('535 5.7.8 Authentication credentials invalid');
    }
    expect(s.clock.delays).toEqual([]);

    // The 4th reply waits for the clock: it is not there until 1 s has passed.
    const fourth = wire.command(plain('sage', 'wrong'));
    await vi.waitFor(() => expect(s.clock.delays).toEqual([1000]), WAIT);
    expect(wire.received).toBe(false);
    await s.clock.manual.advance(1000);
    expect((await fourth).code).toBe(535);

    // Meanwhile another client is not held up by the slowed one.
    const other = await s.wire();
    await other.expect(other.command('EHLO other.test'), 250);

    const expected = [1000, 2000, 4000, 8000, 10_000, 10_000];
    for (let attempt = 5; attempt <= 9; attempt += 1) {
      const reply = wire.command(plain('sage', 'wrong'));
      await vi.waitFor(() => expect(s.clock.delays).toHaveLength(attempt - 3), WAIT);
      await s.clock.manual.advance(s.clock.delays.at(-1) ?? 0);
      expect((await reply).code).toBe(535);
    }
    const tenth = wire.command(plain('sage', 'wrong'));
    await vi.waitFor(() => expect(s.clock.delays).toHaveLength(7), WAIT);
    expect(s.clock.delays).toEqual(expected.concat([10_000]).slice(0, 7));
    await s.clock.manual.advance(10_000);
    expect((await tenth).last).toMatch(/^421 4\.7\.0 /);
    await wire.closed;
  });

  it("'required': MAIL without AUTH gets 530 5.7.0", async () => {
    const s = await start({ auth: 'required' }, withSage);
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    expect((await wire.command('MAIL FROM:<sage@contoso.com>')).last).toBe('530 5.7.0 Authentication required');
    await wire.expect(wire.command(plain('sage', 'sage-pw')), 235);
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
  });

  it("'accept-any': any credentials pass, and the sender decides the account as without AUTH", async () => {
    const s = await start({ auth: 'accept-any' });
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    await wire.expect(wire.command(plain('whoever', 'anything')), 235);
    expect((await wire.command('MAIL FROM:<stranger@example.com>')).code).toBe(550);
    const reply = await sendMessage(wire, 'scanner@contoso.com', 'From: scanner@contoso.com\n\nx');
    expect(reply).toMatch(/^250 /);
    expect(s.accepted[0]?.account).toBe('scanner');
  });

  it("'off': no AUTH advertised or accepted", async () => {
    const s = await start({ auth: 'off' }, withSage);
    const wire = await s.wire();
    const ehlo = await wire.command('EHLO client.test');
    expect(ehlo.lines.some((line) => line.startsWith('AUTH'))).toBe(false);
    expect((await wire.command(plain('sage', 'sage-pw'))).code).toBe(500);
  });
});

describe('sender rewriting', () => {
  it('for a listed client: envelope and From become the mailbox, display name kept, Reply-To added', async () => {
    const s = await start({ rewriteSender: [{ client: '127.0.0.1', account: 'scanner' }] });
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    const reply = await sendMessage(wire, 'scan@printer.local', 'From: "Scanner 3rd floor" <scan@printer.local>\nSubject: scan\n\nFrom: body line\n');
    expect(reply).toMatch(/^250 /);
    const record = s.accepted[0];
    expect(record?.mailFrom).toBe('scanner@contoso.com');
    expect(record?.account).toBe('scanner');
    const eml = (await s.sink.queuedMessage(record?.id ?? '')).toString('utf8');
    expect(eml).toContain('From: "Scanner 3rd floor" <scanner@contoso.com>');
    expect(eml).toContain('Reply-To: <scan@printer.local>');
    expect(eml).toContain('From: body line');
    expect(eml).not.toContain('<scan@printer.local>\r\nSubject');
  });

  it('for a user with rewriteSender, to its own account only', async () => {
    const s = await start({}, (path) => addUser(path, 'copier', 'pw', { account: 'scanner', rewriteSender: true }));
    const wire = await s.wire();
    await wire.expect(wire.command('EHLO client.test'), 250);
    await wire.expect(wire.command(plain('copier', 'pw')), 235);
    // Even an address of the other account becomes this user's mailbox, never sage's.
    const reply = await sendMessage(wire, 'sage@contoso.com', 'From: sage@contoso.com\n\nx');
    expect(reply).toMatch(/^250 /);
    expect(s.accepted[0]?.mailFrom).toBe('scanner@contoso.com');
  });
});
