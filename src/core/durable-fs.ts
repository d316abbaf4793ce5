/**
 * File-system steps that survive a power cut, in the order Postfix and Haraka use:
 * write to a temporary file, fsync it, rename it into place, fsync the folder.
 *
 * A rename is atomic (POSIX rename(2)), but it is only durable once the folder that holds the
 * new name has been fsynced (fsync(2): "Calling fsync() does not necessarily ensure that the
 * entry in the directory containing the file has also reached disk. For that an explicit
 * fsync() on a file descriptor for the directory is also needed.").
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Spool files hold mail and sealed files hold secrets: readable by the relay's own account only. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Windows cannot open a directory as a file (EISDIR/EPERM) and Node offers no other way to
 * flush one there; NTFS journals its metadata changes itself, so directory fsyncs are skipped.
 */
export const DIRECTORY_FSYNC = process.platform !== 'win32';

/** True for the fs error of a file that is not there (ENOENT). */
export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Makes renames and unlinks inside `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  if (!DIRECTORY_FSYNC) return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Removes a file; one that is gone already is fine. One unlink(2), where fs.rm makes three
 * calls (two lstats, then the unlink) on the thread pool the spool's fsyncs wait in.
 */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Writes `data` to `path` (created or truncated) and fsyncs the file before returning. */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w', PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` atomically and durably: readers see the old or the new content, never a mix,
 * and after a crash the file holds one of them whole.
 * `tmpDir` (same file system as `path`) keeps the temporary file out of a folder that is scanned.
 */
export async function writeFileDurable(
  path: string,
  data: string | Uint8Array,
  options: { tmpDir?: string } = {},
): Promise<void> {
  const tmpPath = join(options.tmpDir ?? dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  try {
    await writeFileSynced(tmpPath, data);
    await rename(tmpPath, path);
  } catch (error) {
    await rm(tmpPath, { force: true }).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

/** Renames `from` to `to` and makes the new name durable (the caller fsyncs the source folder when it matters). */
export async function moveDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await fsyncDirectory(dirname(to));
}

/** Folders that hold private files: only the relay's own account may list or enter them. */
export const PRIVATE_DIR_MODE = 0o700;
