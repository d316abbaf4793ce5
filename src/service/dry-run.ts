/**
 * The dry run: records every file and command instead of acting. `service ... --print` prints
 * its transcript; the tests read its steps.
 */
import type { CommandOptions, CommandResult, CommandRunner, FileWriter } from './command-runner.js';

export type DryRunStep =
  | { readonly kind: 'command'; readonly program: string; readonly args: readonly string[]; readonly probe: boolean; readonly interactive: boolean }
  | { readonly kind: 'file'; readonly path: string; readonly content: string; readonly mode: number }
  | { readonly kind: 'directory'; readonly path: string; readonly mode: number | undefined }
  | { readonly kind: 'copy'; readonly from: string; readonly to: string }
  | { readonly kind: 'remove'; readonly path: string };

export class DryRun implements CommandRunner, FileWriter {
  readonly steps: DryRunStep[] = [];

  /** @param answer what a command "returns": by default probes fail (so their follow-ups show), actions succeed. */
  constructor(private readonly answer: (program: string, args: readonly string[]) => CommandResult | undefined = () => undefined) {}

  run(program: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const probe = options.probe === true;
    this.steps.push({ kind: 'command', program, args: [...args], probe, interactive: options.interactive === true });
    return Promise.resolve(this.answer(program, args) ?? { code: probe ? 1 : 0, stdout: '', stderr: '' });
  }

  makeDirectory(path: string, mode?: number): Promise<void> {
    this.steps.push({ kind: 'directory', path, mode });
    return Promise.resolve();
  }

  writeFile(path: string, content: string, mode: number): Promise<void> {
    this.steps.push({ kind: 'file', path, content, mode });
    return Promise.resolve();
  }

  copyFile(from: string, to: string): Promise<void> {
    this.steps.push({ kind: 'copy', from, to });
    return Promise.resolve();
  }

  removeFile(path: string): Promise<void> {
    this.steps.push({ kind: 'remove', path });
    return Promise.resolve();
  }

  /** The command lines, one string each, for assertions. */
  commandLines(): string[] {
    return this.steps.flatMap((step) => (step.kind === 'command' ? [[step.program, ...step.args].join(' ')] : []));
  }

  fileAt(path: string): string | undefined {
    for (const step of this.steps) if (step.kind === 'file' && step.path === path) return step.content;
    return undefined;
  }

  /** What an administrator reads: each file with its content, each command as a shell would show it. */
  transcript(): string {
    return this.steps.map(describeStep).join('');
  }
}

function describeStep(step: DryRunStep): string {
  switch (step.kind) {
    case 'command': {
      const line = [step.program, ...step.args].map(shellWord).join(' ');
      if (step.probe) return `# check: ${line}\n`;
      return `${line}${step.interactive ? '    # asks for the password on the terminal' : ''}\n`;
    }
    case 'file':
      return `# write ${step.path} (mode ${step.mode.toString(8).padStart(4, '0')}):\n${indent(step.content)}\n`;
    case 'directory':
      return `# create folder ${step.path}${step.mode === undefined ? '' : ` (mode ${step.mode.toString(8).padStart(4, '0')})`}\n`;
    case 'copy':
      return `# copy ${step.from} -> ${step.to}\n`;
    case 'remove':
      return `# remove ${step.path}\n`;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? '' : `    ${line}`))
    .join('\n');
}

/** Quotes an argument only when a shell would split or expand it. */
function shellWord(word: string): string {
  if (/^[\w@%+=:,./\\-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
