/**
 * The daemon's local control channel. Listening on it is also the single-instance lock: two
 * daemons on one data folder would deliver every message twice, so a second one refuses to start.
 */
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../core/logger.js';
import { pingControl } from './control-client.js';
import {
  CONTROL_PROTOCOL_VERSION,
  MAX_CONTROL_MESSAGE_BYTES,
  controlRequestSchema,
  type ControlEvent,
  type ControlRequest,
  type ControlResponse,
} from './control-protocol.js';

/**
 * Handles one request; `emit` sends an event line to the client before the final reply, and
 * `signal` aborts when the client goes away (a person pressed Ctrl+C during a login).
 */
export type ControlHandler = (request: ControlRequest, emit: (event: ControlEvent) => void, signal: AbortSignal) => Promise<unknown>;

/** Another daemon already serves this data folder. */
export class AlreadyRunningError extends Error {
  constructor(endpoint: string) {
    super(`Another smtp-oauth-relay daemon is already running for this data folder (control channel ${endpoint}).`);
    this.name = 'AlreadyRunningError';
  }
}

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async listen(endpoint: string, handler: ControlHandler, logger: Logger): Promise<ControlServer> {
    const server = createServer((socket) => serveOne(socket, handler, logger));
    try {
      await listenOn(server, endpoint);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      if (await pingControl(endpoint)) throw new AlreadyRunningError(endpoint);
      // A socket file left by a daemon that was killed: nobody answers on it, so it is ours to replace.
      if (process.platform !== 'win32') await unlink(endpoint).catch(() => undefined);
      await listenOn(server, endpoint);
    }
    if (process.platform !== 'win32') await chmod(endpoint, 0o600);
    return new ControlServer(server, endpoint);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function listenOn(server: Server, endpoint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(endpoint, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function serveOne(socket: Socket, handler: ControlHandler, logger: Logger): void {
  let buffered = '';
  const gone = new AbortController();
  socket.on('close', () => gone.abort());
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_CONTROL_MESSAGE_BYTES) return void socket.destroy();
    const end = buffered.indexOf('\n');
    if (end === -1) return;
    socket.pause();
    const emit = (event: ControlEvent): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(event)}\n`);
    };
    void answer(buffered.slice(0, end), (request) => handler(request, emit, gone.signal), logger).then((response) => socket.end(`${JSON.stringify(response)}\n`));
  });
}

async function answer(line: string, handler: (request: ControlRequest) => Promise<unknown>, logger: Logger): Promise<ControlResponse> {
  let request: ControlRequest;
  try {
    request = controlRequestSchema.parse(JSON.parse(line));
  } catch {
    return { ok: false, version: CONTROL_PROTOCOL_VERSION, error: 'malformed control request' };
  }
  try {
    return { ok: true, version: CONTROL_PROTOCOL_VERSION, result: await handler(request) };
  } catch (error) {
    logger.debug({ err: error, command: request.command }, 'control request failed');
    return { ok: false, version: CONTROL_PROTOCOL_VERSION, error: (error as Error).message };
  }
}
