import type { CommandOptions, CommandResult, CommandRunner } from './command-runner.js';
import { ServiceCommandError } from './service-manager.js';

/** Runs an action that must succeed: a non-zero exit throws with the command and its output. */
export async function mustRun(runner: CommandRunner, program: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult> {
  const result = await runner.run(program, args, options);
  if (result.code !== 0) throw new ServiceCommandError(program, args, result);
  return result;
}
