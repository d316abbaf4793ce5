/**
 * What a service manager does to the machine, behind two small interfaces: commands it runs and
 * files it writes. The real ones act; the dry run (`--print`, and the tests) only records, so what
 * the Windows and macOS managers WOULD run is testable on Linux.
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  /**
   * A question, not an action (e.g. "does the user exist?"): a non-zero exit is an answer, not a
   * failure. A dry run answers "no", so the actions that follow are shown.
   */
  readonly probe?: boolean;
  /** The command talks to the administrator (a password prompt): stdio is the terminal's. */
  readonly interactive?: boolean;
}

export interface CommandRunner {
  run(program: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

export interface FileWriter {
  /** Creates the folder and its parents; `mode` applies to the last one. */
  makeDirectory(path: string, mode?: number): Promise<void>;
  writeFile(path: string, content: string, mode: number): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
  /** Removes the file if it is there. */
  removeFile(path: string): Promise<void>;
}

/** Runs programs directly (never through a shell: arguments are not re-parsed). */
export class SpawnCommandRunner implements CommandRunner {
  run(program: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    return new Promise((resolve) => {
      const child = spawn(program, args, { stdio: options.interactive === true ? 'inherit' : ['ignore', 'pipe', 'pipe'], windowsHide: true });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('error', (error) => resolve({ code: 127, stdout, stderr: `${stderr}${error.message}` }));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  }
}

export class NodeFileWriter implements FileWriter {
  async makeDirectory(path: string, mode?: number): Promise<void> {
    await mkdir(path, { recursive: true });
    if (mode !== undefined) await chmod(path, mode);
  }

  async writeFile(path: string, content: string, mode: number): Promise<void> {
    await writeFile(path, content, { mode });
    await chmod(path, mode); // writeFile's mode only applies to a new file
  }

  async copyFile(from: string, to: string): Promise<void> {
    await copyFile(from, to);
  }

  async removeFile(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}
