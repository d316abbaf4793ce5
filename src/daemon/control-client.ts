/**
 * The CLI's side of the control channel. `undefined` means no daemon is listening, so the
 * caller falls back to the state on disk. Nothing is sent (no request, no secret) and no event
 * is shown (no sign-in address, no device code) before the listener has proved that it holds the
 * key of this data folder's relay; a listener that cannot is reported as an impostor.
 */
import { lstat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { readKey, untrustedReason } from './control-folder.js';
import { atShortPath, type ControlEndpoint } from './control-endpoint.js';
import { newNonce, proofMatches, proofOf, relayHelloSchema } from './control-handshake.js';
import {
  CONTROL_PROTOCOL_VERSION,
  MAX_CONTROL_MESSAGE_BYTES,
  type ControlEvent,
  type ControlRequest,
  type ControlResponse,
} from './control-protocol.js';

const NO_DAEMON = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK']);

export interface ControlRequestOptions {
  readonly timeoutMs?: number;
  /** Receives the daemon's event lines (e.g. the sign-in prompt) before the final reply. */
  readonly onEvent?: (event: ControlEvent) => void;
  /** For the relay probing its own run folder, which it has just checked: skip the owner and mode checks. */
  readonly ownRunFolder?: boolean;
}

/** Something listens at the control endpoint that is not the relay of this data folder. */
export class ControlImpostorError extends Error {
  constructor(
    endpoint: ControlEndpoint,
    readonly reason: string,
  ) {
    super(
      `IMPOSTOR: something that is not the relay of ${endpoint.dataDir} answers on its control channel (${endpoint}): ${reason}. ` +
        'Nothing was sent to it. Find the program that listens there and stop it.',
    );
    this.name = 'ControlImpostorError';
  }
}

export async function requestControl(endpoint: ControlEndpoint, request: ControlRequest, options: ControlRequestOptions = {}): Promise<ControlResponse | undefined> {
  // Files that another user could have made or changed: do not even connect.
  const distrust = options.ownRunFolder === true ? undefined : await untrustedReason(endpoint);
  if (distrust !== undefined) throw new ControlImpostorError(endpoint, distrust);
  const key = await readKey(endpoint);
  // Windows: without the key there is no pipe name, so there is nothing to talk to; POSIX: without
  // the key and the socket, no relay ever ran here (and the run folder may not exist to chdir into).
  if (key === undefined && (endpoint.isPipe || !(await exists(endpoint.socketPath)))) return undefined;
  const address = key === undefined ? endpoint.socketPath : endpoint.address(key);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = atShortPath(address, (usable) => connect(usable));
    const conversation = new Conversation(endpoint, socket, request, options, key);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`The daemon did not answer on ${endpoint} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const settle = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => conversation.start());
    socket.on('data', (chunk: string) => conversation.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (conversation.failure !== undefined) return settle(() => reject(conversation.failure));
      settle(() => (NO_DAEMON.has(error.code ?? '') ? resolve(undefined) : reject(error)));
    });
    socket.on('close', () => {
      settle(() => {
        try {
          resolve(conversation.finish());
        } catch (error) {
          reject(error as Error);
        }
      });
    });
  });
}

/** True when this data folder's relay answers on the endpoint (an impostor is not a relay). */
export async function pingControl(endpoint: ControlEndpoint): Promise<boolean> {
  try {
    return (await requestControl(endpoint, { command: 'ping' }, { timeoutMs: 2_000 }))?.ok === true;
  } catch {
    return false;
  }
}

/** One connection: hello, proof, request, then events and the final reply. */
class Conversation {
  private readonly clientNonce = newNonce();
  private proven = false;
  private received = '';
  failure: Error | undefined;

  constructor(
    private readonly endpoint: ControlEndpoint,
    private readonly socket: Socket,
    private readonly request: ControlRequest,
    private readonly options: ControlRequestOptions,
    private readonly key: Buffer | undefined,
  ) {}

  start(): void {
    if (this.key === undefined) return this.fail(`the relay's key ${this.endpoint.keyFile} does not exist, yet something listens`);
    this.socket.write(`${JSON.stringify({ hello: { version: CONTROL_PROTOCOL_VERSION, nonce: this.clientNonce } })}\n`);
  }

  receive(chunk: string): void {
    if (this.failure !== undefined) return;
    this.received += chunk;
    if (this.received.length > MAX_CONTROL_MESSAGE_BYTES) return void this.socket.destroy(new Error('control reply too large'));
    for (let end = this.received.indexOf('\n'); end !== -1; end = this.received.indexOf('\n')) {
      const line = this.received.slice(0, end);
      if (!this.proven) {
        this.received = this.received.slice(end + 1);
        this.checkHello(line);
        if (this.failure !== undefined) return;
        continue;
      }
      // Every complete line but the last reply is an event.
      const parsed = parseLine(line);
      if (parsed === undefined || !('event' in parsed)) break;
      this.received = this.received.slice(end + 1);
      this.options.onEvent?.(parsed as ControlEvent);
    }
  }

  /** The final reply, once the relay has closed the connection. */
  finish(): ControlResponse {
    if (this.failure !== undefined) throw this.failure;
    if (!this.proven) {
      const old = parseLine(this.received.trim());
      if (old !== undefined && typeof old.version === 'number' && old.version !== CONTROL_PROTOCOL_VERSION) throw versionError(old.version);
      throw new ControlImpostorError(this.endpoint, 'it closed the connection without proving that it holds the key');
    }
    let response: ControlResponse;
    try {
      response = JSON.parse(this.received) as ControlResponse;
    } catch {
      throw new Error('The daemon sent a malformed reply');
    }
    if (response.version !== CONTROL_PROTOCOL_VERSION) throw versionError(response.version);
    return response;
  }

  private checkHello(line: string): void {
    const parsed = parseLine(line);
    if (parsed !== undefined && typeof parsed.version === 'number' && parsed.version !== CONTROL_PROTOCOL_VERSION && !('hello' in parsed)) {
      this.failure = versionError(parsed.version);
      this.socket.destroy();
      return;
    }
    const hello = relayHelloSchema.safeParse(parsed);
    if (!hello.success || this.key === undefined) return this.fail('its first answer is not the relay\'s hello');
    const { nonce, proof } = hello.data.hello;
    if (!proofMatches(this.key, 'relay', this.clientNonce, nonce, proof)) return this.fail('it does not hold the key of this data folder\'s relay');
    this.proven = true;
    this.socket.write(`${JSON.stringify({ proof: proofOf(this.key, 'cli', this.clientNonce, nonce), request: this.request })}\n`);
  }

  private fail(reason: string): void {
    this.failure = new ControlImpostorError(this.endpoint, reason);
    this.socket.destroy();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function versionError(version: number): Error {
  return new Error(`The daemon speaks control protocol ${version}, this command ${CONTROL_PROTOCOL_VERSION}: use the same version`);
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
