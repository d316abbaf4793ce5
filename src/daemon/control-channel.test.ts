import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { pingControl, requestControl } from './control-client.js';
import { controlEndpoint } from './control-endpoint.js';
import { AlreadyRunningError, ControlServer, type ControlHandler } from './control-server.js';

describe('control channel', () => {
  let dir: string;
  let endpoint: string;
  const servers: ControlServer[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'control-'));
    endpoint = controlEndpoint(dir);
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const listen = async (handler: ControlHandler): Promise<ControlServer> => {
    const server = await ControlServer.listen(endpoint, handler, silentLogger());
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
    expect(reply).toEqual({ ok: true, version: 1, result: { echoed: 'status' } });
    expect(events).toEqual([
      { event: 'prompt', text: 'open https://example.test/device' },
      { event: 'prompt', text: 'code ABC-123' },
    ]);
    expect(await requestControl(endpoint, { command: 'queue.show', id: 'x1' })).toEqual({ ok: false, version: 1, error: 'no message x1' });
  });

  it('refuses a malformed request without falling over', async () => {
    await listen(async () => 'fine');
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(endpoint);
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve(text)).on('error', reject);
      socket.write('{"command":"rm -rf"}\n');
    });
    expect(JSON.parse(raw)).toEqual({ ok: false, version: 1, error: 'malformed control request' });
    expect(await pingControl(endpoint)).toBe(true);
  });

  it.skipIf(process.platform === 'win32')('is a socket only its owner can open (mode 0600)', async () => {
    await listen(async () => 'fine');
    expect((await stat(endpoint)).mode & 0o777).toBe(0o600);
  });

  it('is the single-instance lock: a second daemon on the same data folder refuses to start', async () => {
    await listen(async () => ({ pid: 1 }));
    await expect(ControlServer.listen(endpoint, async () => 'second', silentLogger())).rejects.toBeInstanceOf(AlreadyRunningError);
  });

  it.skipIf(process.platform === 'win32')('replaces a socket file left by a daemon that was killed', async () => {
    await writeFile(endpoint, '');
    await listen(async () => 'after restart');
    expect(await requestControl(endpoint, { command: 'status' })).toMatchObject({ ok: true, result: 'after restart' });
  });

  it('tells the caller that no daemon runs (undefined), so it can fall back to the disk', async () => {
    expect(await requestControl(endpoint, { command: 'status' })).toBeUndefined();
    expect(await pingControl(endpoint)).toBe(false);
  });
});
