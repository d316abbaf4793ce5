/**
 * Files the CLI writes into the data folder belong to the data folder's owner (the service's
 * account), even when the CLI runs as root: a root-owned 0600 users.json or sealed token locks
 * the service out of its own state (every AUTH answered 454, a sign-in that "vanished").
 * See docs/security.md ("Who owns the data folder").
 *
 * POSIX only: Windows has no uid for Node to give, files there inherit the folder's ACL.
 */
import { lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DATA_FOLDER_NAMES } from './data-paths.js';

export class DataFolderOwner {
  private constructor(
    private readonly dataDir: string,
    /** The uid to give files to; undefined when there is nothing to do. */
    private readonly uid: number | undefined,
    private readonly gid: number | undefined,
  ) {}

  /**
   * Who should own what this process writes under `dataDir`. A process that is neither root nor
   * the owner could only create files the relay cannot rely on: it is refused before it writes.
   */
  static async of(dataDir: string): Promise<DataFolderOwner> {
    const self = process.getuid?.();
    if (process.platform === 'win32' || self === undefined) return new DataFolderOwner(dataDir, undefined, undefined);
    let folder: { uid: number; gid: number };
    try {
      folder = await lstat(dataDir);
    } catch (error) {
      // Not there yet: whatever creates it owns it, and `service install` gives it to the service.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new DataFolderOwner(dataDir, undefined, undefined);
      throw error;
    }
    if (folder.uid === self) return new DataFolderOwner(dataDir, undefined, undefined);
    if (self !== 0) {
      throw new Error(
        `The data folder ${dataDir} belongs to uid ${folder.uid}, and this command runs as uid ${self}: ` +
          'run it as the relay\'s user (e.g. sudo -u <service user> smtp-oauth-relay ...) or as root, so that the relay can read what it writes',
      );
    }
    return new DataFolderOwner(dataDir, folder.uid, folder.gid);
  }

  /**
   * Gives `relativePaths` (files or folders, recursively) to the data folder's owner. Links are
   * changed themselves and never followed (lchown, no descent), so a link planted in the data
   * folder cannot make root give away a file elsewhere. Missing paths are skipped.
   */
  async adopt(relativePaths: readonly string[]): Promise<void> {
    if (this.uid === undefined || this.gid === undefined) return;
    for (const relativePath of relativePaths) await this.give(join(this.dataDir, relativePath));
  }

  private async give(path: string): Promise<void> {
    let info;
    try {
      info = await lstat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await lchown(path, this.uid!, this.gid!);
    if (!info.isDirectory()) return;
    for (const entry of await readdir(path)) await this.give(join(path, entry));
  }
}

/** What the sign-in and secret commands write when no daemon does it for them. */
export const CREDENTIAL_PATHS = [DATA_FOLDER_NAMES.secrets, DATA_FOLDER_NAMES.keys, DATA_FOLDER_NAMES.tokens, DATA_FOLDER_NAMES.state] as const;
