/**
 * Where the daemon's control channel listens, and how both ends find it.
 *
 * POSIX: a Unix socket `<dataDir>/run/relay.sock` in a 0700 folder the relay owns. There is no
 * fallback to a shared folder such as /tmp (a name there can be taken by any local user, see
 * docs/security.md): when the absolute path is longer than sun_path allows, both ends bind and
 * connect through the relative name after a chdir into the run folder.
 *
 * Windows: a named pipe whose name is derived from the channel's random key
 * (`<dataDir>/run/control.key`), so it cannot be guessed from the data folder's path.
 */
import { createHmac } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { dataPaths } from '../core/data-paths.js';

/** sun_path is 108 bytes on Linux and 104 on macOS; keep a margin. */
const MAX_SOCKET_PATH = 100;

export class ControlEndpoint {
  /** Owner-only folder for the socket and the key. */
  readonly runDir: string;
  /** The channel's random key: proves each end to the other (control-handshake.ts). */
  readonly keyFile: string;
  /** The Unix socket (POSIX only). */
  readonly socketPath: string;

  constructor(
    readonly dataDir: string,
    readonly platform: NodeJS.Platform = process.platform,
  ) {
    this.runDir = dataPaths(dataDir).run;
    this.keyFile = join(this.runDir, 'control.key');
    this.socketPath = join(this.runDir, 'relay.sock');
  }

  get isPipe(): boolean {
    return this.platform === 'win32';
  }

  /** What to listen on or connect to, for the relay that holds `key`. */
  address(key: Buffer): string {
    if (!this.isPipe) return this.socketPath;
    const name = createHmac('sha256', key).update('smtp-oauth-relay pipe name').digest('hex').slice(0, 32);
    return `\\\\.\\pipe\\smtp-oauth-relay-${name}`;
  }

  /** For messages: the socket path, or where the pipe's name comes from. */
  toString(): string {
    return this.isPipe ? `the named pipe named by ${this.keyFile}` : this.socketPath;
  }
}

export function controlEndpoint(dataDir: string): ControlEndpoint {
  return new ControlEndpoint(resolve(dataDir));
}

/**
 * Runs `use` with a name for `path` that fits in sun_path: the path itself, or its base name
 * after a chdir into its folder (bind and connect resolve it synchronously, inside `use`).
 * Pipe names are not file paths and pass through unchanged.
 */
export function atShortPath<T>(path: string, use: (usable: string) => T): T {
  if (path.startsWith('\\\\.\\pipe\\') || Buffer.byteLength(path) <= MAX_SOCKET_PATH) return use(path);
  const previous = process.cwd();
  process.chdir(dirname(path));
  try {
    return use(`./${basename(path)}`);
  } finally {
    process.chdir(previous);
  }
}
