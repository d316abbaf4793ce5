/**
 * The "runtime assets" seam of the Windows single executable (docs/windows-release.md). The
 * release bundle injects this module first (esbuild `inject`) and maps every `import.meta.url`
 * in the code to `import_meta_url`, so modules that read files beside themselves
 * (src/cli/version.ts, src/service/templates.ts) find them in the unpacked folder, and native
 * addons are loaded from there with process.dlopen. Only the bundle imports this module.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as sea from 'node:sea';
import { releaseId, runtimeFolderCandidates, unpackRuntimeAssets, type RuntimeAssets } from './runtime-folder.js';

/** Set by the release build (esbuild `define`): JSON of the package version and the SEA asset names. */
declare const __SEA_RELEASE__: string;

/** The folder that plays the package root: package.json, service/, the native addons. */
const packageRoot = sea.isSea() ? unpackSeaAssets() : checkoutRoot();

/** Stands for `import.meta.url` of a module two levels below the package root (dist/cli/main.js). */
export const import_meta_url = pathToFileURL(join(packageRoot, 'dist', 'cli', 'main.js')).href;

/** Loads a native addon the executable carries (named as in the build's native addon table). */
export function loadNativeAddon(file: string): unknown {
  const module = { exports: {} as unknown };
  process.dlopen(module, join(packageRoot, file));
  return module.exports;
}

function unpackSeaAssets(): string {
  const release = JSON.parse(__SEA_RELEASE__) as { version: string; assets: string[] };
  const assets: RuntimeAssets = { names: release.assets, read: (name) => Buffer.from(sea.getAsset(name)) };
  return unpackRuntimeAssets(assets, runtimeFolderCandidates(releaseId(release.version, assets), process.env));
}

/** The bundle run by a plain node (a check of the bundle on the build machine): the checkout it sits in. */
function checkoutRoot(): string {
  for (let dir = dirname(process.argv[1] ?? process.cwd()); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'smtp-oauth-relay') return dir;
    if (dirname(dir) === dir) throw new Error('not inside the smtp-oauth-relay package');
  }
}
