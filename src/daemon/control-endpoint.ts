/**
 * Where the daemon's control channel listens: a Unix socket in the data folder (mode 0600 in a
 * 0700 folder, so only the relay's own OS account and root can use it), or a named pipe on Windows.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** sun_path is 108 bytes on Linux and 104 on macOS; keep a margin. */
const MAX_SOCKET_PATH = 100;

export function controlEndpoint(dataDir: string): string {
  const absolute = resolve(dataDir);
  const digest = createHash('sha256').update(absolute).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\smtp-oauth-relay-${digest}`;
  const inDataDir = join(absolute, 'relay.sock');
  if (Buffer.byteLength(inDataDir) <= MAX_SOCKET_PATH) return inDataDir;
  // A data folder too deep for a socket path: fall back to a name derived from it.
  return join(tmpdir(), `smtp-oauth-relay-${digest}.sock`);
}
