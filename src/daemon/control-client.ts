/**
 * The CLI's side of the control channel. `undefined` means no daemon is listening, so the
 * caller falls back to the state on disk.
 */
import { connect } from 'node:net';
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
}

export function requestControl(endpoint: string, request: ControlRequest, options: ControlRequestOptions = {}): Promise<ControlResponse | undefined> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`The daemon did not answer on ${endpoint} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const settle = (fn: () => void): void => {
      clearTimeout(timer);
      fn();
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > MAX_CONTROL_MESSAGE_BYTES) return void socket.destroy(new Error('control reply too large'));
      // Every complete line but the last reply is an event.
      for (let end = received.indexOf('\n'); end !== -1; end = received.indexOf('\n')) {
        const line = received.slice(0, end);
        const parsed = parseLine(line);
        if (parsed === undefined || !('event' in parsed)) break;
        received = received.slice(end + 1);
        options.onEvent?.(parsed as ControlEvent);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      settle(() => (NO_DAEMON.has(error.code ?? '') ? resolve(undefined) : reject(error)));
    });
    socket.on('end', () => {
      settle(() => {
        try {
          const response = JSON.parse(received) as ControlResponse;
          if (response.version !== CONTROL_PROTOCOL_VERSION) {
            reject(new Error(`The daemon speaks control protocol ${response.version}, this command ${CONTROL_PROTOCOL_VERSION}: use the same version`));
            return;
          }
          resolve(response);
        } catch {
          reject(new Error('The daemon sent a malformed reply'));
        }
      });
    });
  });
}

/** True when a daemon answers on the endpoint. */
export async function pingControl(endpoint: string): Promise<boolean> {
  try {
    return (await requestControl(endpoint, { command: 'ping' }, { timeoutMs: 2_000 }))?.ok === true;
  } catch {
    return false;
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
