/**
 * The unit and part tests that concern Windows, run by the Windows node.exe under Wine
 * (`wine node.exe node_modules/vitest/vitest.mjs run <files>`, stdio to files), so that they pass
 * on Windows rather than skip. The win32 bindings vitest and the keyring need come from
 * package-lock.json (win32-modules.ts) through NODE_PATH; the checkout stays as `npm ci` left it.
 *
 * Left out, and why (docs/windows-release.md):
 * - src/daemon/control-channel.test.ts: its single-instance test needs FILE_FLAG_FIRST_PIPE_INSTANCE,
 *   which Wine 8 does not enforce (the pipe itself is proven by exe.test.ts);
 * - src/daemon/health-server.test.ts: Node's fetch() cannot connect under Wine 8 (a Wine bug);
 * - src/cli/user-command.test.ts: 80 s under Wine, and nothing Windows-specific;
 * - the end-to-end tests (test/e2e): the release exe's smoke (exe.test.ts) covers that path.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireToolUnderCi } from '../support/system-tool.js';
import { unpackWin32Modules } from './win32-modules.js';
import { REPO_ROOT, runWine, WINDOWS_NODE_EXE, windowsPath, wineTools } from './wine.js';

/** What runs, by the Windows concern it covers. */
export const WINDOWS_UNIT_TESTS: readonly string[] = [
  'src/sea', // where the executable unpacks its native addon, with Windows paths
  'src/auth', // sealed files, the file key store, sign-in state: files, renames, modes
  'test/auth/keychain.test.ts', // the key store on Credential Manager
  'test/auth/client-credentials-provider.test.ts', // MSAL over https with an extra CA, on Windows sockets
  'src/core', // configuration and logs (paths, an open log file)
  'src/queue', // the spool: durable writes and renames, recovery, errno names
  'src/health/os-log.test.ts', // the Event Log path
  'test/service', // the Windows service manager, and the others' renderers on Windows
  'test/inbound/local-auth.test.ts', // local TLS: the generated key and certificate files
];

const tools = wineTools();

describe.runIf(tools.available)('unit and part tests with the Windows node.exe', () => {
  let modules: string;
  let nodePath: string;
  beforeAll(async () => {
    modules = await mkdtemp(join(tmpdir(), 'win32-modules-'));
    nodePath = windowsPath(unpackWin32Modules(modules));
  });
  afterAll(async () => {
    await rm(modules, { recursive: true, force: true });
  });

  it('pass', async () => {
    const result = await runWine(WINDOWS_NODE_EXE, ['node_modules/vitest/vitest.mjs', 'run', ...WINDOWS_UNIT_TESTS], {
      cwd: REPO_ROOT,
      env: { NODE_PATH: nodePath, FORCE_COLOR: '0', NO_COLOR: '1' },
      timeoutMs: 300_000,
    });
    const output = `${result.stdout}${result.stderr}`;
    const summary = output.split('\n').filter((line) => /^\s+(Test Files|Tests|Duration)\s/.test(line) || /\bFAIL\b/.test(line));
    console.log(`Windows node.exe, ${Math.round(result.elapsedMs / 1000)} s:\n${summary.join('\n')}`);
    expect(result.code, output.slice(-6000)).toBe(0);
    expect(output).toMatch(/Tests\s+\d+ passed/);
  }, 330_000);
});

requireToolUnderCi(tools);
