import { chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { ControlImpostorError, pingControl, requestControl } from './control-client.js';
import { atShortPath, controlEndpoint, type ControlEndpoint } from './control-endpoint.js';
import { readKey } from './control-folder.js';
import { newNonce, proofOf } from './control-handshake.js';
import { AlreadyRunningError, ControlServer, EndpointTakenError, type ControlHandler } from './control-server.js';

const posix = process.platform !== 'win32';
const isRoot = process.getuid?.() === 0;

/** Sends raw lines and collects every line the server answers until it closes. */
async function rawExchange(endpoint: ControlEndpoint, lines: (received: string[]) => string | undefined): Promise<string[]> {
  const address = endpoint.address((await readKey(endpoint))!);
  return new Promise((resolve, reject) => {
    const socket = atShortPath(address, (path) => connect(path));
    const received: string[] = [];
    let text = '';
    const next = (): void => {
      const line = lines(received);
      if (line !== undefined) socket.write(`${line}\n`);
    };
    socket.setEncoding('utf8');
    socket.on('connect', next);
    socket.on('data', (chunk: string) => {
      text += chunk;
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n')) {
        received.push(text.slice(0, end));
        text = text.slice(end + 1);
        next();
      }
    });
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

/** A listener at the endpoint that is not the relay: it records what it gets and plays a relay of protocol 2 without the key. */
async function squat(endpoint: ControlEndpoint, answer: string[]): Promise<{ server: Server; got: string[] }> {
  await mkdir(endpoint.runDir, { recursive: true, mode: 0o700 });
  const got: string[] = [];
  const server = createServer((socket) => {
    socket.setEncoding('utf8').on('data', (chunk: string) => got.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.write(answer.map((line) => `${line}\n`).join(''));
  });
  await new Promise<void>((resolve) => atShortPath(endpoint.socketPath, (path) => server.listen(path, resolve)));
  return { server, got };
}

describe('control channel', () => {
  let dir: string;
  let endpoint: ControlEndpoint;
  const servers: ControlServer[] = [];
  const squatters: Server[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'control-'));
    endpoint = controlEndpoint(dir);
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const server of squatters.splice(0)) await new Promise((resolve) => atShortPath(endpoint.socketPath, () => server.close(resolve)));
    await rm(dir, { recursive: true, force: true });
  });

  const listen = async (handler: ControlHandler, at: ControlEndpoint = endpoint): Promise<ControlServer> => {
    const server = await ControlServer.listen(at, handler, silentLogger());
    servers.push(server);
    return server;
  };

  it('answers a request, streams events before the final reply, and reports handler errors', async () => {
    await listen(async (request, emit) => {
      if (request.command === 'queue.show') throw new Error(`no message ${request.id}`);
      emit({ event: 'prompt', text: 'open https://example.test/device' });
      emit({ event: 'prompt', text: 'code ABC-123' });
      return { echoed: request.command };
    });
    const events: unknown[] = [];
    const reply = await requestControl(endpoint, { command: 'status' }, { onEvent: (event) => events.push(event) });
    expect(reply).toEqual({ ok: true, version: 2, result: { echoed: 'status' } });
    expect(events).toEqual([
      { event: 'prompt', text: 'open https://example.test/device' },
      { event: 'prompt', text: 'code ABC-123' },
    ]);
    expect(await requestControl(endpoint, { command: 'queue.show', id: 'x1' })).toEqual({ ok: false, version: 2, error: 'no message x1' });
  });

  it('obeys no client that skips the hello or cannot prove the key, and stays up', async () => {
    const handled: string[] = [];
    await listen(async (request) => void handled.push(request.command));
    const skipped = await rawExchange(endpoint, (received) => (received.length === 0 ? '{"command":"status"}' : undefined));
    expect(JSON.parse(skipped[0]!)).toMatchObject({ ok: false, error: expect.stringContaining('hello') });

    const clientNonce = newNonce();
    const wrongKey = Buffer.alloc(32, 7);
    const forged = await rawExchange(endpoint, (received) => {
      if (received.length === 0) return JSON.stringify({ hello: { version: 2, nonce: clientNonce } });
      if (received.length > 1) return undefined;
      const relayNonce = (JSON.parse(received[0]!) as { hello: { nonce: string } }).hello.nonce;
      return JSON.stringify({ proof: proofOf(wrongKey, 'cli', clientNonce, relayNonce), request: { command: 'logout', account: 'sage' } });
    });
    expect(JSON.parse(forged[1]!)).toMatchObject({ ok: false, error: expect.stringContaining('not authenticated') });
    expect(handled).toEqual([]);
    expect(await pingControl(endpoint)).toBe(true);
    expect(handled).toEqual(['ping']);
  });

  it.skipIf(!posix)('is a socket only its owner can open (0600), in a run folder only its owner can enter (0700), with an owner-only key', async () => {
    await listen(async () => 'fine');
    expect((await stat(endpoint.socketPath)).mode & 0o777).toBe(0o600);
    expect((await stat(endpoint.runDir)).mode & 0o777).toBe(0o700);
    expect((await stat(endpoint.keyFile)).mode & 0o777).toBe(0o600);
  });

  it('is the single-instance lock: a second daemon on the same data folder refuses to start', async () => {
    await listen(async () => ({ pid: 1 }));
    await expect(ControlServer.listen(endpoint, async () => 'second', silentLogger())).rejects.toBeInstanceOf(AlreadyRunningError);
  });

  it.skipIf(!posix)('replaces a socket file left by a daemon that was killed', async () => {
    await mkdir(endpoint.runDir, { recursive: true, mode: 0o700 });
    await writeFile(endpoint.socketPath, '');
    await listen(async () => 'after restart');
    expect(await requestControl(endpoint, { command: 'status' })).toMatchObject({ ok: true, result: 'after restart' });
  });

  it('tells the caller that no daemon runs (undefined), so it can fall back to the disk', async () => {
    expect(await requestControl(endpoint, { command: 'status' })).toBeUndefined();
    expect(await pingControl(endpoint)).toBe(false);
  });

  it.skipIf(!posix)('sends nothing to a listener that cannot prove the key, shows none of its events, and names it an impostor', async () => {
    await mkdir(endpoint.runDir, { recursive: true, mode: 0o700 });
    await writeFile(endpoint.keyFile, `${Buffer.alloc(32, 1).toString('hex')}\n`, { mode: 0o600 });
    const { server, got } = await squat(endpoint, [
      JSON.stringify({ event: 'prompt', prompt: { kind: 'device-code', message: 'go to https://evil.test and enter EVIL-CODE' } }),
      JSON.stringify({ hello: { version: 2, nonce: newNonce(), proof: 'ab'.repeat(32) } }),
    ]);
    squatters.push(server);
    const events: unknown[] = [];
    const secret = requestControl(endpoint, { command: 'secret.set', account: 'sage', secret: 'S3cret!' }, { onEvent: (event) => events.push(event) });
    await expect(secret).rejects.toBeInstanceOf(ControlImpostorError);
    await expect(requestControl(endpoint, { command: 'status' })).rejects.toThrow(/IMPOSTOR/);
    expect(events).toEqual([]);
    expect(got.join('')).not.toContain('S3cret!');
    expect(got.join('')).not.toContain('secret.set');
    expect(await pingControl(endpoint)).toBe(false);
    // A relay that starts finds the squatter and says so, instead of "already running".
    await expect(ControlServer.listen(endpoint, async () => 'x', silentLogger())).rejects.toBeInstanceOf(EndpointTakenError);
  });

  it.skipIf(!posix || !isRoot)('does not even connect to a socket in a run folder that belongs to another user', async () => {
    let connections = 0;
    const { server } = await squat(endpoint, [JSON.stringify({ ok: true, version: 2, result: 'OK' })]);
    server.on('connection', () => (connections += 1));
    squatters.push(server);
    await chown(endpoint.runDir, 65534, 65534);
    await expect(requestControl(endpoint, { command: 'status' })).rejects.toThrow(/IMPOSTOR.*belongs to uid 65534/);
    expect(connections).toBe(0);
  });

  it.skipIf(!posix)('binds inside the data folder, never in a shared folder, when the path is too long for a socket', async () => {
    const deep = controlEndpoint(join(dir, 'a'.repeat(60), 'b'.repeat(60)));
    expect(Buffer.byteLength(deep.socketPath)).toBeGreaterThan(108);
    const cwd = process.cwd();
    // Before any relay ran there (no run folder to chdir into): simply no daemon.
    expect(await requestControl(deep, { command: 'status' })).toBeUndefined();
    await listen(async () => 'deep', deep);
    expect(process.cwd()).toBe(cwd);
    expect((await stat(deep.socketPath)).isSocket()).toBe(true);
    expect(await requestControl(deep, { command: 'status' })).toMatchObject({ ok: true, result: 'deep' });
    expect(await readKey(deep)).toHaveLength(32);
    await servers.pop()!.close();
    // Closing removes the socket it bound (through the same short name) and the key.
    await expect(stat(deep.socketPath)).rejects.toThrow(/ENOENT/);
    await expect(stat(deep.keyFile)).rejects.toThrow(/ENOENT/);
  });
});
