/**
 * A Node single executable application for Windows, built on Linux
 * (nodejs.org/api/single-executable-applications.html): a preparation blob made by the building
 * node (same version as the Windows node.exe), injected with postject into a copy of node.exe.
 * The code cache and the snapshot are V8 data for the building platform, so both stay off.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The fuse Node looks for to know a blob was injected (the documented value for Node 20). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

export interface SeaOptions {
  readonly repo: string;
  readonly workDir: string;
  readonly mainScript: string;
  /** SEA asset name -> file on the build machine. */
  readonly assets: ReadonlyMap<string, string>;
  readonly nodeExe: string;
  readonly outputExe: string;
}

export function buildSea(options: SeaOptions): void {
  const blob = join(options.workDir, 'sea-prep.blob');
  const config = join(options.workDir, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify(
      {
        // Relative, and the blob made in workDir: the blob records the main script's path, which
        // must not depend on where the checkout is (the build is reproducible from any clone).
        main: relative(options.workDir, options.mainScript),
        output: relative(options.workDir, blob),
        disableExperimentalSEAWarning: true,
        useSnapshot: false,
        useCodeCache: false,
        assets: Object.fromEntries(options.assets),
      },
      null,
      2,
    ),
  );
  execFileSync(process.execPath, ['--experimental-sea-config', config], { cwd: options.workDir, stdio: 'inherit' });
  copyFileSync(options.nodeExe, options.outputExe);
  execFileSync(process.execPath, [join(options.repo, 'node_modules/postject/dist/cli.js'), options.outputExe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
