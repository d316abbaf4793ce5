/**
 * Folders are states (docs/architecture.md, "Folders are states"):
 *   tmp/         a record's next version before it is renamed into place: removed at start-up
 *   queue/       committed, waiting for delivery: <id>.eml and <id>.json; also the .eml of a
 *                message being received, which has no record until it is committed
 *   failed/      given up (a delivery status notification was due), kept for `queue retry`
 *   quarantine/  files recovery could not make sense of: kept for a person, never deleted
 */
import { chmod, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { dataPaths } from '../core/data-paths.js';

export interface SpoolFolders {
  readonly root: string;
  readonly tmp: string;
  readonly queue: string;
  readonly failed: string;
  readonly quarantine: string;
}

/** The spool holds other people's mail: only the relay's account may read it. */
const PRIVATE_DIR_MODE = 0o700;

export function spoolFolders(dataDir: string): SpoolFolders {
  const root = dataPaths(dataDir).spool;
  return {
    root,
    tmp: join(root, 'tmp'),
    queue: join(root, 'queue'),
    failed: join(root, 'failed'),
    quarantine: join(root, 'quarantine'),
  };
}

export function emlName(id: string): string {
  return `${id}.eml`;
}

export function jsonName(id: string): string {
  return `${id}.json`;
}

export async function createSpoolFolders(folders: SpoolFolders): Promise<void> {
  for (const dir of [folders.root, folders.tmp, folders.queue, folders.failed, folders.quarantine]) {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // mkdir leaves an existing folder's mode alone, and the umask may have widened a new one.
    // Windows has no POSIX modes; the folder inherits the ACL of the data folder there.
    if (process.platform !== 'win32') await chmod(dir, PRIVATE_DIR_MODE);
  }
}

/** Fails at start-up, with the folder in the message, rather than at the first message. */
export async function assertWritable(dir: string): Promise<void> {
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    const handle = await open(probe, 'w', 0o600);
    try {
      await handle.writeFile('probe');
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new Error(`The spool folder ${dir} is not writable`, { cause: error });
  } finally {
    await rm(probe, { force: true });
  }
}
