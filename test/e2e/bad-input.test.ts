/**
 * Bad input against the real relay process: malformed SMTP (raw sockets), over-long lines,
 * a message cut off before its final dot, and broken configuration files. Whatever a client
 * sends, it gets the reply RFC 5321 asks for and the daemon keeps serving.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MOCK_SEND_AS, startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { runProcess, type ProcessResult } from '../support/run-process.js';
import { SmtpWire } from '../support/smtp-wire.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';

const RECIPIENT = 'customer@fabrikam.example';
/** sysexits.h EX_CONFIG. */
const EX_CONFIG = 78;

/** Runs the built CLI to its end; killed after 30 s so that a `serve` that wrongly starts cannot hang the test. */
function cli(args: readonly string[], cwd: string): Promise<ProcessResult> {
  return runProcess(process.execPath, [RELAY_CLI, ...args], { cwd, timeoutMs: 30_000 });
}

function messageText(subject: string, body: string): string {
  return [`From: ${MOCK_SEND_AS}`, `To: ${RECIPIENT}`, `Subject: ${subject}`, '', body, ''].join('\r\n');
}

/** A complete, valid transaction on a session that has said EHLO; returns the 250 reply. */
async function sendValid(wire: SmtpWire, subject: string): Promise<string> {
  await wire.startDataAfterEhlo(MOCK_SEND_AS, [RECIPIENT]);
  const reply = await wire.expect(wire.command(`${messageText(subject, 'A valid message.')}.`), 250);
  return reply.last;
}

describe('malformed SMTP against the running relay', () => {
  let dir: string;
  let tenant: MockTenant;
  let relay: RelayProcess;
  const wires: SmtpWire[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-bad-input-'));
    tenant = await startMockTenant();
    relay = await RelayProcess.start({ config: tenant.relayConfig(join(dir, 'data'), { listen: { port: 0 } }), dir });
  });

  afterEach(async () => {
    for (const wire of wires.splice(0)) wire.close();
    await relay?.kill('SIGTERM');
    await tenant?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const open = async (): Promise<SmtpWire> => {
    const wire = await SmtpWire.open(relay.port);
    wires.push(wire);
    return wire;
  };

  /** The daemon still works: a new session's message is accepted and arrives upstream. */
  async function expectStillServing(subject: string, upstreamCount: number): Promise<void> {
    const wire = await open();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.example'), 250);
    expect(await sendValid(wire, subject)).toMatch(/^250 2\.0\.0 queued as \S+$/);
    await wire.command('QUIT');
    const received = await tenant.upstream.waitForMessages(upstreamCount, 30_000);
    expect(received[upstreamCount - 1]!.raw.toString()).toContain(`Subject: ${subject}\r\n`);
    expect(relay.child.exitCode).toBeNull();
  }

  it('answers garbage and commands out of order with 500/501/503, then accepts a valid message', async () => {
    const wire = await open();
    await wire.expect(wire.reply(), 220);

    // RFC 5321 4.2.4: 500 for an unrecognized command.
    expect((await wire.command('FROBNICATE the relay')).code).toBe(500);
    expect((await wire.command('\u0001\u0002 binary junk \u00ff')).code).toBe(500);
    // RFC 5321 4.1.4: MAIL needs EHLO/HELO first; 503 is "bad sequence of commands".
    expect((await wire.command(`MAIL FROM:<${MOCK_SEND_AS}>`)).code).toBe(503);
    await wire.expect(wire.command('EHLO client.example'), 250);
    expect((await wire.command(`RCPT TO:<${RECIPIENT}>`)).code).toBe(503);
    expect((await wire.command('DATA')).code).toBe(503);
    // RFC 5321 4.1.2: the path needs angle brackets and one @; 501 is a syntax error in parameters.
    expect((await wire.command(`MAIL FROM:${MOCK_SEND_AS}`)).code).toBe(501);
    expect((await wire.command('MAIL FROM:<invoices@contoso.example')).code).toBe(501);
    expect((await wire.command('MAIL FROM:<invoices@@contoso.example>')).code).toBe(501);
    await wire.expect(wire.command(`MAIL FROM:<${MOCK_SEND_AS}>`), 250);
    expect((await wire.command('DATA')).code).toBe(503);
    expect((await wire.command('RCPT TO:<no-at-sign>')).code).toBe(501);
    expect((await wire.command('RCPT TO:<two words@fabrikam.example>')).code).toBe(501);
    expect((await wire.command('RCPT TO:')).code).toBe(501);
    // The transaction survived the refused commands: the same session can finish it.
    await wire.expect(wire.command(`RCPT TO:<${RECIPIENT}>`), 250);
    await wire.expect(wire.command('DATA'), 354);
    await wire.expect(wire.command(`${messageText('after the garbage', 'Same session.')}.`), 250);
    await wire.command('QUIT');

    await tenant.upstream.waitForMessages(1, 30_000);
    await expectStillServing('new session after garbage', 2);
    expect(relay.linesWith('message accepted')).toHaveLength(2);
  });

  it('answers a line over 1,000 octets with 500/501 and one over 4,096 with 421 and a close', async () => {
    const wire = await open();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.example'), 250);

    // RFC 5321 4.5.3.1.4 allows 512 octets per command line; up to our 4,096 the line is
    // parsed and answered like any other wrong command (inbound-server.ts).
    const longGarbage = 'X'.repeat(1_500);
    expect((await wire.command(longGarbage)).code).toBe(500);
    const longAddress = `RCPT TO:<${'r'.repeat(2_000)}>`;
    expect(longAddress.length).toBeGreaterThan(1_000);
    await wire.expect(wire.command(`MAIL FROM:<${MOCK_SEND_AS}>`), 250);
    expect((await wire.command(longAddress)).code).toBe(501);
    // Still in step: the next command gets its own reply.
    await wire.expect(wire.command('NOOP'), 250);

    // Beyond the limit the parser cannot find the next command: 421 and the connection closes.
    const tooLong = await wire.command(`NOOP ${'y'.repeat(5_000)}`);
    expect(tooLong.code).toBe(421);
    expect(tooLong.last).toMatch(/too long/i);
    await wire.closed;

    await expectStillServing('after long lines', 1);
  });

  it('queues nothing for a message cut off before its final dot, and keeps serving', async () => {
    const wire = await open();
    await wire.startData(MOCK_SEND_AS, [RECIPIENT]);
    // Headers and some body, no "\r\n.\r\n", then the client goes away (FIN after the bytes).
    await wire.end(messageText('CUT-OFF-MESSAGE', 'half of an invoice'));
    await wire.closed;

    // The spool saw the message break off (it names the draft it threw away)...
    const broke = await relay.waitForLog((line) => /nothing stored/.test(line.msg), 10_000);
    expect(broke.id).toEqual(expect.any(String));
    // ...and its partial file is gone, nothing was committed.
    const queue = join(dir, 'data', 'spool', 'queue');
    await vi.waitFor(async () => expect(await readdir(queue)).toEqual([]), { timeout: 10_000, interval: 100 });
    const listed = await cli(['queue', 'list', '--json', '--config', relay.configFile], dir);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);

    await expectStillServing('after the cut-off message', 1);
    expect(tenant.upstream.messages).toHaveLength(1);
    expect(tenant.upstream.messages.some((m) => m.raw.toString().includes('CUT-OFF-MESSAGE'))).toBe(false);
    expect(relay.linesWith('message accepted')).toHaveLength(1);
    const afterwards = await cli(['queue', 'list', '--json', '--config', relay.configFile], dir);
    expect(JSON.parse(afterwards.stdout)).toEqual([]);
  });
});

describe('broken configuration files', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-bad-config-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Valid except for what `listen` adds; the secret is a placeholder, no tenant is contacted. */
  function configWith(listen: Record<string, unknown>): object {
    return {
      dataDir: join(dir, 'data'),
      listen,
      accounts: [
        {
          name: 'sage',
          mailbox: 'sage@contoso.example',
          sendAs: [MOCK_SEND_AS],
          auth: { method: 'client-credentials', tenantId: 'contoso.example', clientId: 'client', clientSecret: 'placeholder' },
        },
      ],
    };
  }

  async function writeConfig(config: object): Promise<string> {
    const file = join(dir, 'relay.json');
    await writeFile(file, JSON.stringify(config, null, 2));
    return file;
  }

  const commands = [
    ['serve', (file: string) => ['serve', '--config', file]],
    ['config check', (file: string) => ['config', 'check', '--config', file]],
  ] as const;

  it.each(commands)('%s exits 78 and names listen.port when it has the wrong type', async (_name, args) => {
    const file = await writeConfig(configWith({ port: '2525' }));

    const result = await cli(args(file), dir);

    expect(result.code).toBe(EX_CONFIG);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toMatch(/listen\.port: .*expected number.*\(found "2525"\)/);
    expect(result.stdout).not.toContain('relay started');
  });

  it.each(commands)('%s exits 78 and names an unknown field', async (_name, args) => {
    const file = await writeConfig(configWith({ port: 0, colour: 'blue' }));

    const result = await cli(args(file), dir);

    expect(result.code).toBe(EX_CONFIG);
    expect(result.stderr).toMatch(/listen: unknown field "colour"/);
    expect(result.stdout).not.toContain('relay started');
  });

  it.each(commands)('%s exits 78 with a clear message when the file is missing', async (_name, args) => {
    const missing = join(dir, 'no-such-relay.json');

    const result = await cli(args(missing), dir);

    expect(result.code).toBe(EX_CONFIG);
    expect(result.stderr).toContain(missing);
    expect(result.stderr).toMatch(/file not found/);
  });

  it('config check accepts the same file once it is fixed (the cases above fail for their reason)', async () => {
    const file = await writeConfig(configWith({ port: 2525 }));

    const result = await cli(['config', 'check', '--config', file], dir);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('is valid');
  });
});
