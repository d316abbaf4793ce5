/**
 * The daemon's local control channel. Listening on it is also the single-instance lock: two
 * daemons on one data folder would deliver every message twice, so a second one refuses to start.
 * Every connection must first prove that it holds the channel's key (control-handshake.ts).
 */
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../core/logger.js';
import { ControlImpostorError, requestControl } from './control-client.js';
import { atShortPath, type ControlEndpoint } from './control-endpoint.js';
import { ensureKey, prepareRunFolder, readKey, removeKey } from './control-folder.js';
import { clientHelloSchema, newNonce, proofMatches, proofOf, provenRequestSchema } from './control-handshake.js';
import {
  CONTROL_PROTOCOL_VERSION,
  MAX_CONTROL_MESSAGE_BYTES,
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
  constructor(endpoint: ControlEndpoint) {
    super(`Another smtp-oauth-relay daemon is already running for this data folder (control channel ${endpoint}).`);
    this.name = 'AlreadyRunningError';
  }
}

/** The control endpoint is held by a program that is not a relay of this data folder. */
export class EndpointTakenError extends Error {
  constructor(endpoint: ControlEndpoint, reason: string) {
    super(
      `The control channel ${endpoint} is held by a program that is not an smtp-oauth-relay of this data folder (${reason}). ` +
        'Find that program and stop it (it may be trying to catch secrets), then start the relay again.',
    );
    this.name = 'EndpointTakenError';
  }
}

/** How long a client may take over its hello and its request. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export class ControlServer {
  private constructor(
    private readonly server: Server,
    readonly endpoint: ControlEndpoint,
    private readonly address: string,
  ) {}

  static async listen(endpoint: ControlEndpoint, handler: ControlHandler, logger: Logger): Promise<ControlServer> {
    await prepareRunFolder(endpoint);
    const existing = await readKey(endpoint);
    const holder = existing === undefined && endpoint.isPipe ? 'nobody' : await whoHolds(endpoint);
    if (holder === 'relay') throw new AlreadyRunningError(endpoint);
    if (holder !== 'nobody') {
      // A pipe's name comes from the key: a new key is a new name the squatter does not know.
      if (!endpoint.isPipe) throw new EndpointTakenError(endpoint, holder.reason);
      logger.warn({ reason: holder.reason }, 'a program that is not this relay holds the control pipe; the relay takes a new pipe name');
    }
    // Written before listening, so that a client that connects at once can verify the relay.
    const key = await ensureKey(endpoint, { replace: holder !== 'nobody' });
    const address = endpoint.address(key);
    const server = createServer((socket) => serveOne(socket, key, handler, logger));
    // Nobody answers on a socket file left by a daemon that was killed: it is ours to replace.
    if (!endpoint.isPipe) await unlink(endpoint.socketPath).catch(() => undefined);
    try {
      await listenOn(server, address);
    } catch (error) {
      // Another relay started at the same moment and won (libuv creates the first pipe instance
      // with FILE_FLAG_FIRST_PIPE_INSTANCE, so on Windows too only one can listen).
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new AlreadyRunningError(endpoint);
      throw error;
    }
    if (!endpoint.isPipe) await chmod(endpoint.socketPath, 0o600);
    return new ControlServer(server, endpoint, address);
  }

  async close(): Promise<void> {
    // libuv unlinks the socket file by the name it was bound with: close where that name resolves.
    await new Promise<void>((resolve) => atShortPath(this.address, () => this.server.close(() => resolve())));
    await removeKey(this.endpoint).catch(() => undefined);
  }
}

/** Who answers at the endpoint now: nobody, a relay of this data folder, or something else. */
async function whoHolds(endpoint: ControlEndpoint): Promise<'nobody' | 'relay' | { reason: string }> {
  try {
    const reply = await requestControl(endpoint, { command: 'ping' }, { timeoutMs: 2_000, ownRunFolder: true });
    if (reply === undefined) return 'nobody';
    return reply.ok ? 'relay' : { reason: `it answered ping with "${reply.error}"` };
  } catch (error) {
    if (error instanceof ControlImpostorError) return { reason: error.reason };
    return { reason: (error as Error).message };
  }
}

function listenOn(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    atShortPath(address, (usable) =>
      server.listen(usable, () => {
        server.off('error', onError);
        resolve();
      }),
    );
  });
}

function serveOne(socket: Socket, key: Buffer, handler: ControlHandler, logger: Logger): void {
  let buffered = '';
  let clientNonce: string | undefined;
  let relayNonce: string | undefined;
  const gone = new AbortController();
  const deadline = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS);
  socket.on('close', () => {
    clearTimeout(deadline);
    gone.abort();
  });
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  const refuse = (error: string): void => void socket.end(`${JSON.stringify({ ok: false, version: CONTROL_PROTOCOL_VERSION, error } satisfies ControlResponse)}\n`);
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_CONTROL_MESSAGE_BYTES) return void socket.destroy();
    for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (clientNonce === undefined || relayNonce === undefined) {
        const hello = clientHelloSchema.safeParse(parseJson(line));
        if (!hello.success) return refuse('the control channel starts with a hello (control protocol 2)');
        clientNonce = hello.data.hello.nonce;
        relayNonce = newNonce();
        socket.write(`${JSON.stringify({ hello: { version: CONTROL_PROTOCOL_VERSION, nonce: relayNonce, proof: proofOf(key, 'relay', clientNonce, relayNonce) } })}\n`);
        continue;
      }
      const proven = provenRequestSchema.safeParse(parseJson(line));
      if (!proven.success) return refuse('malformed control request');
      if (!proofMatches(key, 'cli', clientNonce, relayNonce, proven.data.proof)) {
        logger.warn('a control request without a valid proof of the key was refused');
        return refuse('not authenticated: this client does not hold the control key');
      }
      clearTimeout(deadline);
      socket.pause();
      socket.removeAllListeners('data');
      const emit = (event: ControlEvent): void => {
        if (!socket.destroyed) socket.write(`${JSON.stringify(event)}\n`);
      };
      void answer(proven.data.request, (request) => handler(request, emit, gone.signal), logger).then((response) => socket.end(`${JSON.stringify(response)}\n`));
      return;
    }
  });
}

async function answer(request: ControlRequest, handler: (request: ControlRequest) => Promise<unknown>, logger: Logger): Promise<ControlResponse> {
  try {
    return { ok: true, version: CONTROL_PROTOCOL_VERSION, result: await handler(request) };
  } catch (error) {
    logger.debug({ err: error, command: request.command }, 'control request failed');
    return { ok: false, version: CONTROL_PROTOCOL_VERSION, error: (error as Error).message };
  }
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
