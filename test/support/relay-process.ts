/**
 * The relay as a real process: `node dist/cli/main.js serve`, as a service manager runs it.
 * Used by the end-to-end and crash tests, the demo and the benchmark. Reads the JSON log lines
 * on stdout to learn the listening port and to wait for events (accepted, delivered...).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const RELAY_CLI = join(REPO_ROOT, 'dist/cli/main.js');

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface RelayProcessOptions {
  /** Written to <dir>/relay.json and passed with --config. */
  readonly config: object;
  readonly dir: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. to measure memory. */
  readonly nodeArgs?: readonly string[];
  /**
   * A command the relay runs under, its node command line appended, e.g.
   * ['ip', 'netns', 'exec', 'relay-ns'] (which execs node, so `child` is still the relay).
   */
  readonly wrap?: readonly string[];
  /**
   * The relay's own command line instead of `node dist/cli/main.js`, e.g. the `bin` of an
   * installed package (test/e2e/packed-install.test.ts).
   */
  readonly command?: readonly string[];
}

export class RelayProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  private readonly waiters = new Set<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  port = 0;

  private constructor(
    readonly child: ChildProcess,
    readonly configFile: string,
  ) {
    createInterface({ input: child.stdout! }).on('line', (text) => this.onLine(text));
    createInterface({ input: child.stderr! }).on('line', (text) => this.stderr.push(text));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Starts the relay and waits until it listens. */
  static async start(options: RelayProcessOptions): Promise<RelayProcess> {
    if (options.command === undefined && !existsSync(RELAY_CLI)) throw new Error(`${RELAY_CLI} is missing: run "npm run build" first`);
    const configFile = join(options.dir, 'relay.json');
    await writeFile(configFile, JSON.stringify(options.config, null, 2));
    // Owner-only, as docs/security.md asks: a configuration others can read is a standing warning.
    await chmod(configFile, 0o600);
    const [program = process.execPath, ...args] = [
      ...(options.wrap ?? []),
      ...(options.command ?? [process.execPath, ...(options.nodeArgs ?? []), RELAY_CLI]),
      'serve',
      '--config',
      configFile,
    ];
    const child = spawn(program, args, {
      cwd: options.dir,
      env: relayEnvironment(process.env, options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const relay = new RelayProcess(child, configFile);
    const started = relay.waitForLog((line) => line.msg === 'relay started', 30_000);
    const failed = relay.exited.then(({ code }) => {
      throw new Error(`relay exited with ${code} before it started:\n${relay.stderr.join('\n')}\n${relay.logs.map((l) => JSON.stringify(l)).join('\n')}`);
    });
    let line: LogLine;
    try {
      line = await Promise.race([started, failed]);
    } catch (error) {
      // Never leave a half-started relay behind a failed test.
      await relay.kill('SIGKILL');
      throw error;
    }
    relay.port = Number(String(line.smtp).split(':').pop());
    return relay;
  }

  /** Resolves with the first log line (past or future) that passes `test`. */
  waitForLog(test: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.logs.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve: (line: LogLine) => (clearTimeout(timer), resolve(line)) };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${this.logs.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Log lines with this message, e.g. 'message accepted' or 'message delivered'. */
  linesWith(msg: string): LogLine[] {
    return this.logs.filter((line) => line.msg === msg);
  }

  /** Sends a signal and waits for the process to end. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  get exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited;
  }

  private onLine(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    this.logs.push(line);
    for (const waiter of this.waiters) {
      if (!waiter.test(line)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(line);
    }
  }
}

/**
 * The environment a relay under test gets: this machine's and the test's, without the variables
 * that loosen or widen TLS trust when they only come from this machine (a CI image may set
 * NODE_EXTRA_CA_CERTS to its CA bundle, and helpers such as secretServiceEnv copy process.env).
 * The relay trusts the mock tenant through identity.caFile and upstream.caFile, and reports those
 * variables as a standing warning (src/health/standing-warnings.ts); a test that wants one gives
 * it in `env` with a value of its own.
 */
function relayEnvironment(machine: NodeJS.ProcessEnv, test: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...machine, ...test };
  for (const name of ['NODE_EXTRA_CA_CERTS', 'NODE_TLS_REJECT_UNAUTHORIZED']) {
    if (test[name] === undefined || test[name] === machine[name]) delete env[name];
  }
  return env;
}
