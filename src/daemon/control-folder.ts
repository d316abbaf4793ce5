/**
 * The control channel's run folder and key, on both sides.
 *
 * The relay creates `<dataDir>/run` 0700 and refuses a run folder it does not own (or one that is
 * a link), and keeps the key there 0600. The CLI trusts the folder, the key and the socket only
 * when they belong to the data folder's owner, to itself, or to root, and nobody else can read
 * or write them (POSIX modes; Windows has no uid or mode bits in Node: there the key's proof is
 * the whole check, see docs/security.md).
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { PRIVATE_FILE_MODE, writeFileSynced } from '../core/durable-fs.js';
import { CONTROL_KEY_BYTES } from './control-handshake.js';
import type { ControlEndpoint } from './control-endpoint.js';

/** The run folder or the key cannot be used as they are; the message says why and what to do. */
export class ControlFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlFolderError';
  }
}

/** Relay side: the run folder exists, is a folder, is ours and is 0700. */
export async function prepareRunFolder(endpoint: ControlEndpoint): Promise<void> {
  await mkdir(endpoint.runDir, { recursive: true, mode: 0o700 });
  if (endpoint.isPipe) return;
  const info = await lstat(endpoint.runDir);
  if (!info.isDirectory()) throw new ControlFolderError(`${endpoint.runDir} is not a folder (a link or a file): remove it and start again`);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new ControlFolderError(`${endpoint.runDir} belongs to uid ${info.uid}, not to this process (uid ${uid}): remove it, or run the relay as its owner`);
  }
  if ((info.mode & 0o077) !== 0) await chmod(endpoint.runDir, 0o700);
}

/**
 * Relay side: the key of this data folder's channel, created owner-only when there is none. The
 * creation is exclusive (link(2) fails on an existing name), so two relays starting at once end
 * up with one key, one endpoint, and the single-instance lock decides between them. `replace`
 * forces a new key (a new pipe name on Windows).
 */
export async function ensureKey(endpoint: ControlEndpoint, options: { replace?: boolean } = {}): Promise<Buffer> {
  if (options.replace !== true) {
    const existing = await readKey(endpoint);
    if (existing !== undefined) return existing;
  }
  const key = randomBytes(CONTROL_KEY_BYTES);
  const tmpPath = `${endpoint.keyFile}.${randomBytes(6).toString('hex')}.part`;
  await writeFileSynced(tmpPath, `${key.toString('hex')}\n`);
  try {
    if (options.replace === true) await rename(tmpPath, endpoint.keyFile);
    else await linkOrCreate(tmpPath, endpoint.keyFile, key);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readKey(endpoint);
    if (winner === undefined) throw error;
    return winner;
  } finally {
    await rm(tmpPath, { force: true });
  }
  return key;
}

/** link(2), or an exclusive create where the file system has no hard links (FAT, some shares). */
async function linkOrCreate(from: string, to: string, key: Buffer): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
    await writeFile(to, `${key.toString('hex')}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
  }
}

/** Relay side, at stop: nobody is left to prove anything with the key. */
export async function removeKey(endpoint: ControlEndpoint): Promise<void> {
  await rm(endpoint.keyFile, { force: true });
}

/**
 * The key as stored; undefined when there is none (no relay has started here). A key that
 * cannot be read says to run as the relay's user: without it nothing can be verified.
 */
export async function readKey(endpoint: ControlEndpoint): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(endpoint.keyFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ControlFolderError(`cannot read the control channel's key ${endpoint.keyFile} (${code}): run this command as the relay's OS user, or as root/administrator`);
    }
    throw error;
  }
  const key = Buffer.from(text.trim(), 'hex');
  if (key.length !== CONTROL_KEY_BYTES) throw new ControlFolderError(`${endpoint.keyFile} does not hold a control key: stop the relay, remove the file and start the relay again`);
  return key;
}

/**
 * CLI side: why the run folder, the key or the socket cannot be trusted, or undefined when they
 * can (or do not exist: then nothing listens there either). A listener whose files belong to
 * another user is someone else's, whatever it answers.
 */
export async function untrustedReason(endpoint: ControlEndpoint): Promise<string | undefined> {
  if (endpoint.isPipe) return undefined;
  const trusted = new Set<number>([0]);
  const uid = process.getuid?.();
  if (uid !== undefined) trusted.add(uid);
  const dataDir = await lstatOrUndefined(endpoint.dataDir);
  if (dataDir !== undefined) trusted.add(dataDir.uid);
  const describe = (path: string, info: Stats): string | undefined => {
    if (!trusted.has(info.uid)) return `${path} belongs to uid ${info.uid}, neither the data folder's owner nor root`;
    if ((info.mode & 0o022) !== 0) return `${path} can be changed by other users (mode ${(info.mode & 0o777).toString(8)})`;
    return undefined;
  };
  const folder = await lstatOrUndefined(endpoint.runDir);
  if (folder === undefined) return undefined;
  if (!folder.isDirectory()) return `${endpoint.runDir} is not a folder`;
  const folderProblem = describe(endpoint.runDir, folder) ?? ((folder.mode & 0o077) !== 0 ? `${endpoint.runDir} is open to other users (mode ${(folder.mode & 0o777).toString(8)})` : undefined);
  if (folderProblem !== undefined) return folderProblem;
  const socket = await lstatOrUndefined(endpoint.socketPath);
  if (socket !== undefined && !socket.isSocket()) return `${endpoint.socketPath} is not a socket`;
  if (socket !== undefined) {
    const socketProblem = describe(endpoint.socketPath, socket);
    if (socketProblem !== undefined) return socketProblem;
  }
  const key = await lstatOrUndefined(endpoint.keyFile);
  if (key === undefined) return undefined;
  if (!key.isFile()) return `${endpoint.keyFile} is not a file`;
  return describe(endpoint.keyFile, key) ?? ((key.mode & 0o077) !== 0 ? `${endpoint.keyFile} can be read by other users (mode ${(key.mode & 0o777).toString(8)})` : undefined);
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ControlFolderError(`cannot look into ${path} (${code}): run this command as the relay's OS user, or as root/administrator`);
    }
    throw error;
  }
}
