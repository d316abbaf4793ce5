/**
 * Tests that need a program from the operating system (swaks, python3, ip, gnome-keyring...).
 * On a machine with only Node and npm they skip and say why; under CI (CI=true) a missing tool
 * is a failure, because .ci/run installs every one of them.
 */
import { spawnSync } from 'node:child_process';
import { it } from 'vitest';

export interface ToolCheck {
  /** True when the tool can be used here. */
  readonly available: boolean;
  /** Why the tests skip, for the test name. */
  readonly reason: string;
}

/** Checks that `command args...` runs and exits 0. */
export function systemTool(name: string, command: readonly string[], installHint: string): ToolCheck {
  const [program, ...args] = command;
  const result = spawnSync(program ?? name, args, { stdio: 'ignore', timeout: 10_000 });
  const available = result.error === undefined && result.status === 0;
  return { available, reason: available ? '' : `${name} is not available (${installHint})` };
}

/**
 * Registers a test that fails under CI when the tool is missing, and is skipped (with the
 * reason in its name) elsewhere. Call it inside the describe block that needs the tool.
 */
export function requireToolUnderCi(tool: ToolCheck): void {
  if (tool.available) return;
  if (process.env.CI === 'true') {
    it(`needs ${tool.reason}`, () => {
      throw new Error(`CI must run these tests but ${tool.reason}`);
    });
    return;
  }
  it.skip(`skipped: ${tool.reason}`, () => undefined);
}

export const isRoot = (): boolean => process.getuid?.() === 0;
