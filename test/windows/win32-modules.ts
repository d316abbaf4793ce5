/**
 * The win32-x64 native packages of package-lock.json (the keyring binding, and the build tools'
 * bindings vitest needs: rolldown, esbuild, lightningcss), fetched with `npm pack`, checked
 * against the lock's integrity and unpacked into `<dir>/node_modules`, so that the Windows
 * node.exe can run the unit tests from this checkout under Wine with NODE_PATH=<dir>/node_modules.
 * The checkout's own node_modules is left as `npm ci` made it. Used by node-unit.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { npmPackLocked } from '../../scripts/release/npm-packages.js';
import { RELEASE_WORK, REPO_ROOT } from './wine.js';

/** Unpacks the packages into `<dir>/node_modules` and returns that folder. */
export function unpackWin32Modules(dir: string): string {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { optional?: boolean }> };
  for (const [key, meta] of Object.entries(lock.packages)) {
    if (!/win32-x64/.test(key) || meta.optional !== true) continue;
    const name = key.replace(/^.*node_modules\//, '');
    const { tarball, entry } = npmPackLocked(REPO_ROOT, name, join(RELEASE_WORK, 'cache'));
    const folder = join(dir, 'node_modules', name);
    mkdirSync(folder, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', folder, '--strip-components=1']);
    process.stdout.write(`  ${name}@${entry.version}\n`);
  }
  return join(dir, 'node_modules');
}
