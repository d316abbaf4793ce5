/**
 * Where the Windows single executable (docs/windows-release.md) unpacks what it carries: the
 * native addons, which Windows can only load from a file, and the package files the code reads
 * beside itself (package.json, service/ templates).
 *
 * The folder is chosen so that only the account running the relay, or an administrator, can have
 * written it, because a DLL loaded from a folder another user can write is that user's code
 * running as the service:
 * 1. `%ProgramData%\smtp-oauth-relay\bin\<release>`, but only when the product folder already
 *    exists: the MSI or `service install` creates it with its final ACL. We never create it here,
 *    or the first user to run the exe would own it (and keep WRITE_DAC).
 * 2. `%LOCALAPPDATA%\smtp-oauth-relay\bin\<release>`: the running account's own profile.
 * Not the exe's folder: under Program Files the service account cannot write it, and anywhere a
 * user can write it, it is unsafe.
 *
 * `<release>` is the version and a digest of the assets, so two builds never share a folder and a
 * file that another running relay has loaded (and Windows therefore locks) is never rewritten.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const PRODUCT_FOLDER = 'smtp-oauth-relay';

export interface RuntimeAssets {
  /** Names as the build gave them, '/'-separated relative paths ("service/systemd/x.service"). */
  readonly names: readonly string[];
  read(name: string): Buffer;
}

/** The folders to try, best first (see above). */
export function runtimeFolderCandidates(release: string, env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): string[] {
  const candidates: string[] = [];
  const programData = env.ProgramData ?? env.PROGRAMDATA;
  if (programData !== undefined && exists(join(programData, PRODUCT_FOLDER))) {
    candidates.push(join(programData, PRODUCT_FOLDER, 'bin', release));
  }
  const localAppData = env.LOCALAPPDATA;
  if (localAppData !== undefined) candidates.push(join(localAppData, PRODUCT_FOLDER, 'bin', release));
  return candidates;
}

/** The folder name for one build: its version and a digest of everything it unpacks. */
export function releaseId(version: string, assets: RuntimeAssets): string {
  const digest = createHash('sha256');
  for (const name of [...assets.names].sort()) digest.update(name).update('\0').update(assets.read(name)).update('\0');
  return `${version}-${digest.digest('hex').slice(0, 12)}`;
}

/**
 * Unpacks every asset into the first candidate folder that accepts them and returns it. A file
 * already there with the same bytes is kept (and not rewritten: it may be loaded and locked).
 */
export function unpackRuntimeAssets(assets: RuntimeAssets, candidates: readonly string[]): string {
  const failures: string[] = [];
  for (const folder of candidates) {
    try {
      for (const name of assets.names) writeIfDifferent(join(folder, ...name.split('/')), assets.read(name));
      return folder;
    } catch (error) {
      failures.push(`${folder}: ${(error as Error).message}`);
    }
  }
  throw new Error(`cannot unpack the executable's native addons into any folder (${failures.join('; ') || 'no ProgramData or LOCALAPPDATA'})`);
}

function writeIfDifferent(path: string, bytes: Buffer): void {
  if (existsSync(path) && readFileSync(path).equals(bytes)) return;
  mkdirSync(dirname(path), { recursive: true });
  // A temporary name and a rename: another relay starting at the same moment never loads half a DLL.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    // The other relay won the race and its copy is loaded (locked): fine if it is the same.
    if (existsSync(path) && readFileSync(path).equals(bytes)) return;
    throw error;
  }
}
