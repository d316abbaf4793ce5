/**
 * The package as its users get it: `npm pack`, then `npm install -g` of that tarball into an
 * empty prefix with `--omit=dev`, as the README's Linux install does. A devDependency imported
 * at run time, or a file read at run time that `files` leaves out, makes the installed command
 * fail here (as `selfsigned` once did: ERR_MODULE_NOT_FOUND), while every test of the checkout
 * passes. The package is packed and installed once for the whole file.
 *
 * The installed package resolves its dependencies from their ranges (a tarball carries no
 * lockfile); `--prefer-offline` takes them from the npm cache that `npm ci` filled.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, RelayProcess } from '../support/relay-process.js';
import { runProcess, type ProcessResult } from '../support/run-process.js';
import { FaultFixture, LegacyClient } from './fault-fixture.js';

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;

/** npm itself: the one running the tests when there is one (npm test), else npm on PATH. */
function npm(args: readonly string[], cwd: string): Promise<ProcessResult> {
  const cli = process.env.npm_execpath;
  const command = cli !== undefined && /\.c?js$/.test(cli) ? [process.execPath, cli] : [process.platform === 'win32' ? 'npm.cmd' : 'npm'];
  const [program = 'npm', ...rest] = command;
  return runProcess(program, [...rest, ...args, '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'], { cwd, timeoutMs: 180_000 });
}

function expectSuccess(result: ProcessResult, what: string): void {
  expect(result.code, `${what} failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
}

/** The installed command, where `npm install -g --prefix` puts it. */
function installedBin(prefix: string): string {
  return process.platform === 'win32' ? join(prefix, `${manifest.name}.cmd`) : join(prefix, 'bin', manifest.name);
}

function installedPackage(prefix: string): string {
  return process.platform === 'win32' ? join(prefix, 'node_modules', manifest.name) : join(prefix, 'lib', 'node_modules', manifest.name);
}

describe('the npm package installed with --omit=dev', () => {
  let scratch: string;
  let prefix: string;
  let bin: string;
  let fixture: FaultFixture;

  const run = (args: readonly string[], input?: string): Promise<ProcessResult> =>
    runProcess(bin, args, { cwd: scratch, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });

  beforeAll(async () => {
    if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run "npm run build" first');
    scratch = await mkdtemp(join(tmpdir(), 'relay-packed-'));
    // dist/ is built once by `npm test`; --ignore-scripts skips prepack's second build.
    const pack = await npm(['pack', '--ignore-scripts', '--pack-destination', scratch], REPO_ROOT);
    expectSuccess(pack, 'npm pack');
    const tarball = join(scratch, `${manifest.name}-${manifest.version}.tgz`);
    expect(existsSync(tarball), `npm pack wrote no ${tarball}`).toBe(true);

    prefix = join(scratch, 'prefix');
    await mkdir(prefix);
    const install = await npm(['install', '--global', '--prefix', prefix, '--omit=dev', '--prefer-offline', tarball], scratch);
    expectSuccess(install, 'npm install --omit=dev');
    bin = installedBin(prefix);
    fixture = await FaultFixture.create();
  }, 240_000);

  afterAll(async () => {
    await fixture?.close();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('installs no devDependency', async () => {
    const installed = new Set(await readdir(join(installedPackage(prefix), 'node_modules')).catch(() => [] as string[]));
    const scopes = [...installed].filter((name) => name.startsWith('@'));
    for (const scope of scopes) {
      for (const name of await readdir(join(installedPackage(prefix), 'node_modules', scope))) installed.add(`${scope}/${name}`);
    }
    expect(installed.has('zod'), 'the runtime dependencies are installed').toBe(true);
    // Whatever a dependency also needs may be shared with a devDependency; the test tools are not.
    for (const tool of ['vitest', 'typescript', 'tsx', 'oauth2-mock-server']) expect(installed.has(tool), tool).toBe(false);
  });

  it('ships the files the README links to', () => {
    for (const file of ['README.md', 'docs/configuration.md', 'config.schema.json', 'config.example.json']) {
      expect(existsSync(join(installedPackage(prefix), file)), file).toBe(true);
    }
  });

  it('--version prints the package version', async () => {
    const result = await run(['--version']);
    expectSuccess(result, '--version');
    expect(result.stdout.trim()).toBe(manifest.version);
  });

  it('config check: 0 for a valid file; 78 naming the field for a wrong one', async () => {
    const valid = join(scratch, 'valid.json');
    await writeFile(valid, JSON.stringify(fixture.config()));
    const ok = await run(['config', 'check', '--config', valid]);
    expectSuccess(ok, 'config check');
    expect(ok.stdout).toContain('is valid');

    const wrong = join(scratch, 'wrong.json');
    await writeFile(wrong, JSON.stringify(fixture.config({ listen: { port: '2525' as unknown as number } })));
    const refused = await run(['config', 'check', '--config', wrong]);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain('listen.port');
  });

  it.runIf(process.platform === 'linux')('reads its service templates (files shipped in the package)', async () => {
    const config = join(scratch, 'service.json');
    await writeFile(config, JSON.stringify(fixture.config()));
    const result = await run(['service', 'install', '--print', '--config', config]);
    expectSuccess(result, 'service install --print');
    expect(result.stdout).toContain(`ExecStart=`);
    expect(result.stdout).toContain(config);
  });

  it('serve delivers a message to the mock tenant, with the self-signed certificate it makes for STARTTLS', async () => {
    const relay = await RelayProcess.start({
      config: fixture.config({ listen: { port: 0, tls: {} } }),
      dir: fixture.dir,
      command: [bin],
    });
    try {
      const client = await LegacyClient.connect(relay.port);
      const id = await client.send('packed-install');
      await client.quit();
      await fixture.tenant.upstream.waitForMessages(1, 30_000);
      await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === id);
      expect(existsSync(join(fixture.dataDir, 'tls', 'cert.pem')), 'selfsigned made the certificate').toBe(true);
    } finally {
      expect((await relay.kill('SIGTERM')).code).toBe(0);
    }
  });
});

/**
 * The same rule without packing, for every file at once: what src/ imports at run time must be a
 * dependency (or optional one) or part of Node, never a devDependency.
 */
describe('runtime imports', () => {
  it('src/ imports only dependencies and Node built-ins outside its tests', async () => {
    const allowed = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.optionalDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const offenders: string[] = [];
    const srcDir = join(REPO_ROOT, 'src');
    for (const entry of await readdir(srcDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) continue;
      const path = join(entry.parentPath, entry.name);
      const text = readFileSync(path, 'utf8');
      // Type-only imports vanish from the JavaScript; every other specifier is loaded.
      for (const match of text.matchAll(/^\s*(?:import|export)(?!\s+type\b)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
        const specifier = match[1] ?? match[2] ?? '';
        if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue;
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? specifier);
        if (!allowed.has(name)) offenders.push(`${relative(REPO_ROOT, path)}: ${specifier}${manifest.devDependencies?.[name] === undefined ? '' : ' (a devDependency)'}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
