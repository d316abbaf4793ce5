/**
 * Optional parts of the Windows release, built when their sources are in the repository:
 * the native service host (windows/service-host.c, with mingw-w64), the PowerShell scripts
 * (windows/*.ps1, copied) and the MSI (windows/smtp-oauth-relay.wxs, with wixl from msitools). Both are Debian packages; the
 * build says which one is missing rather than skipping silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

export const SERVICE_HOST_SOURCE = 'windows/service-host.c';
export const SERVICE_HOST_SCRIPT = 'windows/build-service-host.sh';
export const SERVICE_HOST_EXE = 'smtp-oauth-relay-service.exe';
export const MSI_SOURCE = 'windows/smtp-oauth-relay.wxs';
export const MSI_FILE = 'smtp-oauth-relay.msi';

function requireProgram(program: string, debianPackage: string): void {
  const probe = spawnSync(program, ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined) throw new Error(`${program} is needed to build the release (apt-get install ${debianPackage})`);
}

/**
 * Builds the service host when its source exists; returns the exe's name, or undefined. The
 * host's own build script (windows/build-service-host.sh: it adds the Event Log message table)
 * is used when there is one.
 */
export function buildServiceHost(repo: string, releaseDir: string): string | undefined {
  const source = join(repo, SERVICE_HOST_SOURCE);
  if (!existsSync(source)) return undefined;
  requireProgram('x86_64-w64-mingw32-gcc', 'gcc-mingw-w64-x86-64-win32');
  const script = join(repo, SERVICE_HOST_SCRIPT);
  if (existsSync(script)) {
    execFileSync('sh', [script, join(releaseDir, SERVICE_HOST_EXE)], { stdio: 'inherit' });
    return SERVICE_HOST_EXE;
  }
  // A wide-character entry point (wmain) needs -municode; the SCM and Event Log APIs live in advapi32.
  const unicode = /\bwmain\s*\(/.test(readFileSync(source, 'utf8')) ? ['-municode'] : [];
  execFileSync(
    'x86_64-w64-mingw32-gcc',
    ['-O2', '-s', '-Wall', ...unicode, '-o', join(releaseDir, SERVICE_HOST_EXE), source, '-ladvapi32'],
    { stdio: 'inherit' },
  );
  return SERVICE_HOST_EXE;
}

/**
 * PowerShell scripts under windows/ (the administrator's self-check) ship in the release folder,
 * where the MSI also packs them from. Returns their names.
 */
export function copyWindowsScripts(repo: string, releaseDir: string): string[] {
  const dir = join(repo, 'windows');
  if (!existsSync(dir)) return [];
  const scripts = readdirSync(dir).filter((name) => name.toLowerCase().endsWith('.ps1'));
  for (const name of scripts) copyFileSync(join(dir, name), join(releaseDir, name));
  return scripts;
}

/** Builds the MSI when its source exists (after everything it packs is in the release folder). */
export function buildMsi(repo: string, releaseDir: string, version: string): string | undefined {
  const source = join(repo, MSI_SOURCE);
  if (!existsSync(source)) return undefined;
  requireProgram('wixl', 'wixl');
  // wixl takes no absolute Source path (GLib's g_file_get_child refuses it): ReleaseDir is the
  // release folder relative to the .wxs's folder, which is also wixl's working directory.
  const sourceDir = dirname(source);
  const relativeRelease = relative(sourceDir, releaseDir).split(sep).join('/') || '.';
  execFileSync('wixl', ['-a', 'x64', '-D', `Version=${version}`, '-D', `ReleaseDir=${relativeRelease}`, '-o', join(releaseDir, MSI_FILE), source], {
    cwd: sourceDir,
    stdio: 'inherit',
  });
  return MSI_FILE;
}
