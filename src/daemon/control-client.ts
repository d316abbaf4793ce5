/**
 * The CLI's side of the control channel. `undefined` means no daemon is listening, so the
 * caller falls back to the state on disk.
 */
import { connect } from 'node:net';
import { CONTROL_PROTOCOL_VERSION, MAX_CONTROL_MESSAGE_BYTES, type ControlRequest, type ControlResponse } from './control-protocol.js';

const NO_DAEMON = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK']);

export function requestControl(endpoint: string, request: ControlRequest, timeoutMs = 10_000): Promise<ControlResponse | undefined> {
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
      if (received.length > MAX_CONTROL_MESSAGE_BYTES) socket.destroy(new Error('control reply too large'));
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
    return (await requestControl(endpoint, { command: 'ping' }, 2_000))?.ok === true;
  } catch {
    return false;
  }
}
