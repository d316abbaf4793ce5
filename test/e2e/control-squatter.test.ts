/**
 * A squatter on the control channel (a listener run at the endpoint by someone else, which is how
 * the /tmp fallback of old was taken over) gets nothing from the real CLI: no secret from
 * `secret set`, no device code shown by `login`, no "OK" from `status`, and `serve` names it
 * instead of saying "already running". And a data folder too deep for a socket path still binds
 * inside itself, never in a shared folder. See docs/security.md.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { atShortPath, controlEndpoint, type ControlEndpoint } from '../../src/daemon/control-endpoint.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';
import { runProcess, type ProcessResult } from '../support/run-process.js';
import { FaultFixture } from './fault-fixture.js';

const EVIL_CODE = 'EVIL-CODE-1234';

/** A listener that answers like a relay would if it did not hold the key, and records every byte. */
class Squatter {
  private constructor(
    readonly received: readonly string[],
    private readonly server: Server,
    private readonly endpoint: ControlEndpoint,
  ) {}

  static async at(endpoint: ControlEndpoint, lines: readonly object[]): Promise<Squatter> {
    await mkdir(endpoint.runDir, { recursive: true, mode: 0o700 });
    const received: string[] = [];
    const server = createServer((socket) => {
      socket.setEncoding('utf8');
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: string) => received.push(chunk));
      socket.write(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    });
    await new Promise<void>((resolve) => atShortPath(endpoint.socketPath, (path) => server.listen(path, resolve)));
    return new Squatter(received, server, endpoint);
  }

  close(): Promise<void> {
    return new Promise((resolve) => atShortPath(this.endpoint.socketPath, () => this.server.close(() => resolve())));
  }
}

/** Plays the device-code prompt first, then a hello with a made-up proof, then "OK". */
const PHISHING_LINES = [
  { event: 'prompt', prompt: { kind: 'device-code', message: `To sign in, open https://microsoft.com/devicelogin and enter ${EVIL_CODE}` } },
  { hello: { version: 2, nonce: 'a'.repeat(64), proof: 'b'.repeat(64) } },
  { ok: true, version: 2, result: { pid: 1, stored: true } },
];

/** Speaks the control protocol of old, which trusted whoever answered. */
const OLD_PROTOCOL_LINES = [{ ok: true, version: 1, result: { pid: 1 } }];

function cli(args: readonly string[], input?: string): Promise<ProcessResult> {
  return runProcess(process.execPath, [RELAY_CLI, ...args], { timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });
}

describe.skipIf(process.platform === 'win32')('a squatter on the control channel', () => {
  let fixture: FaultFixture | undefined;
  let squatter: Squatter | undefined;
  afterEach(async () => {
    await squatter?.close();
    squatter = undefined;
    await fixture?.close();
    fixture = undefined;
  });

  const setUp = async (lines: readonly object[]): Promise<{ configFile: string; endpoint: ControlEndpoint }> => {
    fixture = await FaultFixture.create();
    const configFile = join(fixture.dir, 'relay.json');
    await writeFile(configFile, JSON.stringify(fixture.config(), null, 2));
    const endpoint = controlEndpoint(fixture.dataDir);
    // A key the squatter does not know, as a relay that ran here before would have left.
    await mkdir(endpoint.runDir, { recursive: true, mode: 0o700 });
    await writeFile(endpoint.keyFile, `${'5'.repeat(64)}\n`, { mode: 0o600 });
    squatter = await Squatter.at(endpoint, lines);
    return { configFile, endpoint };
  };

  it('secret set sends it no secret, stores none, and says it found an impostor', async () => {
    const { configFile } = await setUp(PHISHING_LINES);
    const secret = 'Sup3r-S3cret-Value';
    const result = await cli(['secret', 'set', '--account', 'sage', '--config', configFile], `${secret}\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('IMPOSTOR');
    expect(result.stdout).not.toContain('Stored');
    // It heard the client's hello (so it does record), and nothing after it.
    expect(squatter!.received.join('')).toContain('hello');
    expect(squatter!.received.join('')).not.toContain(secret);
    expect(squatter!.received.join('')).not.toContain('secret.set');
    // Nothing fell back to a local store either.
    expect(await readdir(join(fixture!.dataDir, 'secrets')).catch(() => [])).toEqual([]);
  });

  it('login shows none of its device code and sends it no request', async () => {
    const { configFile } = await setUp(PHISHING_LINES);
    const result = await cli(['login', '--device-code', '--account', 'sage', '--config', configFile]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain(EVIL_CODE);
    expect(result.stderr).toContain('IMPOSTOR');
    expect(squatter!.received.join('')).not.toContain('login');
  });

  it('status says it found an impostor, not OK', async () => {
    const { configFile } = await setUp(PHISHING_LINES);
    const result = await cli(['status', '--config', configFile]);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('IMPOSTOR');
    expect(result.stdout).not.toMatch(/^OK/);
  });

  it('doctor fails its control check with the impostor, instead of "not running"', async () => {
    const { configFile } = await setUp(PHISHING_LINES);
    const result = await cli(['doctor', '--config', configFile]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toMatch(/^FAIL  control.*IMPOSTOR/m);
  });

  it('status and secret set do not trust a listener that speaks the old protocol either', async () => {
    const { configFile } = await setUp(OLD_PROTOCOL_LINES);
    expect((await cli(['status', '--config', configFile])).code).toBe(2);
    const result = await cli(['secret', 'set', '--account', 'sage', '--config', configFile], 'another-secret\n');
    expect(result.code).toBe(1);
    expect(squatter!.received.join('')).not.toContain('another-secret');
  });

  it('serve names the squatter instead of saying "already running", and does not start', async () => {
    const { configFile } = await setUp(PHISHING_LINES);
    const result = await cli(['serve', '--config', configFile]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('not an smtp-oauth-relay of this data folder');
    expect(result.stderr).not.toContain('already running');
  });
});

describe.skipIf(process.platform === 'win32')('a data folder too deep for a socket path', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('binds inside the data folder, and the CLI reaches the relay there; nothing lands in the shared temporary folder', async () => {
    fixture = await FaultFixture.create();
    const dataDir = join(fixture.dir, 'd'.repeat(70), 'e'.repeat(70));
    const before = (await readdir(tmpdir())).filter((name) => name.endsWith('.sock'));
    const relay = await RelayProcess.start({ config: fixture.config({ dataDir }), dir: fixture.dir });
    const started = await relay.waitForLog((line) => line.msg === 'relay started');
    expect(started.control).toBe(join(dataDir, 'run', 'relay.sock'));
    const status = await cli(['status', '--json', '--config', relay.configFile]);
    expect(JSON.parse(status.stdout)).toMatchObject({ daemon: { running: true, pid: relay.child.pid } });
    const after = (await readdir(tmpdir())).filter((name) => name.endsWith('.sock'));
    expect(after.filter((name) => !before.includes(name))).toEqual([]);
    expect((await relay.kill('SIGTERM')).code).toBe(0);
  });
});
