/**
 * Runs a command body and turns its failure into a message and an exit code, so that every
 * command reports errors the same way: a configuration error names the field and exits 78.
 */
import { ConfigError } from '../core/errors.js';

/** Exit code for failures that are not configuration errors. */
export const EXIT_FAILURE = 1;

export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(`smtp-oauth-relay: ${(error as Error).message}\n`);
    // Errors that know their sysexits.h code carry it (e.g. 69 when no keychain is usable).
    const code = (error as { exitCode?: unknown }).exitCode;
    process.exitCode = typeof code === 'number' ? code : EXIT_FAILURE;
  }
}
