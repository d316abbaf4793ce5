/**
 * Packages for the Windows release come from the npm registry only, through `npm pack` (which
 * verifies each tarball against the registry's `dist.integrity`). Native addons are checked
 * again against package-lock.json, so the exe carries exactly the binding that was reviewed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LockEntry {
  readonly version: string;
  readonly integrity: string;
}

/** The package-lock.json entry of an installed-or-optional package, e.g. "@napi-rs/keyring-win32-x64-msvc". */
export function lockEntry(repo: string, name: string): LockEntry {
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, Partial<LockEntry>> };
  const entry = lock.packages[`node_modules/${name}`];
  if (entry?.version === undefined || entry.integrity === undefined) throw new Error(`${name} is not in package-lock.json with a version and an integrity`);
  return { version: entry.version, integrity: entry.integrity };
}

/** Subresource-integrity form of a file's SHA-512, as npm writes it ("sha512-<base64>"). */
export function sha512Integrity(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

export function sha256Hex(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** `npm pack name@version` into `cacheDir`; returns the tarball's path and its integrity. */
export function npmPack(spec: string, cacheDir: string): { tarball: string; integrity: string } {
  mkdirSync(cacheDir, { recursive: true });
  const output = execFileSync('npm', ['pack', spec, '--json', '--pack-destination', cacheDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [packed] = JSON.parse(output) as { filename: string; integrity: string }[];
  if (packed === undefined) throw new Error(`npm pack ${spec} packed nothing`);
  return { tarball: join(cacheDir, packed.filename), integrity: packed.integrity };
}

/** Fetches a locked package and refuses it unless its tarball matches the lock's integrity. */
export function npmPackLocked(repo: string, name: string, cacheDir: string): { tarball: string; entry: LockEntry } {
  const entry = lockEntry(repo, name);
  const { tarball } = npmPack(`${name}@${entry.version}`, cacheDir);
  const actual = sha512Integrity(tarball);
  if (actual !== entry.integrity) throw new Error(`${name}@${entry.version}: tarball integrity ${actual} differs from package-lock.json's ${entry.integrity}`);
  return { tarball, entry };
}

/** Extracts one member of a package tarball ("package/bin/node.exe") into `dir`. */
export function extractFromTarball(tarball: string, member: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dir, member], { stdio: 'inherit' });
  return join(dir, member);
}
