/**
 * Starts our relay for the benchmark the way a service manager does, with its output going to
 * a file (as Postfix's goes to its maillog), not through a pipe into the bench process: the
 * bench's SMTP clients share that process's event loop, and parsing every JSON log line there
 * would slow the clients down while measuring ours only. The port is chosen beforehand and
 * the relay is ready when it greets on it (the listener is the last part it starts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { RELAY_CLI } from '../test/support/relay-process.js';

/** An account rate no bench run reaches: Exchange allows 30 a minute, the mock has no limit. */
export const UNLIMITED_RATE = { messages: 100_000, perSeconds: 1 };

export interface LaunchedRelay {
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

/** Whether something on 127.0.0.1:`port` answers with a 220 greeting (then QUIT). */
export function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('data', (data: Buffer) => {
      socket.end('QUIT\r\n');
      resolve(data.toString('latin1').startsWith('220'));
    });
    socket.once('error', () => resolve(false));
  });
}

export async function launchRelay(options: {
  readonly config: { readonly listen?: object } & Record<string, unknown>;
  readonly dir: string;
  readonly port: number;
  readonly nodeArgs?: readonly string[];
  /** Another build's dist/cli/main.js, to compare two builds side by side (bench/idle-rss.ts). */
  readonly cli?: string;
}): Promise<LaunchedRelay> {
  const configFile = join(options.dir, 'relay.json');
  await writeFile(configFile, JSON.stringify({ ...options.config, listen: { ...options.config.listen, port: options.port } }, null, 2));
  const logFile = join(options.dir, 'relay.stdout.log');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), options.cli ?? RELAY_CLI, 'serve', '--config', configFile], {
    cwd: options.dir,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  while (!(await greets(options.port))) {
    if (gone) throw new Error(`the relay exited before it listened; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the relay did not listen within 30 s; see ${logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (child.pid === undefined) throw new Error('the relay has no pid');
  return {
    port: options.port,
    pid: child.pid,
    logFile,
    async stop() {
      if (!gone) child.kill('SIGTERM');
      await exited;
    },
  };
}
