/**
 * `user add|remove|list` in a real child process (commander parses argv, the password comes
 * on stdin), against a real configuration file and users.json in a temp folder.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalUsers } from '../../src/inbound/local-users.js';

const PROGRAM = `
import { Command } from 'commander';
import { registerUserCommand } from ${JSON.stringify(new URL('../../src/cli/user-command.ts', import.meta.url).pathname)};
const program = new Command('smtp-oauth-relay');
registerUserCommand(program);
await program.parseAsync(JSON.parse(process.env.USER_CLI_ARGS), { from: 'user' });
`;

function runCli(args: readonly string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROGRAM], {
      stdio: 'pipe',
      env: { ...process.env, USER_CLI_ARGS: JSON.stringify(args) },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

let dir: string;
let configFile: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'user-cli-'));
  configFile = join(dir, 'relay.json');
  const auth = { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecret: 's' };
  await writeFile(
    configFile,
    JSON.stringify({
      dataDir: './data',
      accounts: [
        { name: 'sage', mailbox: 'sage@contoso.com', sendAs: ['invoices@contoso.com'], auth },
        { name: 'scanner', mailbox: 'scanner@contoso.com', auth },
      ],
    }),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('smtp-oauth-relay user', () => {
  it('adds a user with the password from stdin, lists it, and removes it', { timeout: 60_000 }, async () => {
    const added = await runCli(['user', 'add', 'sage-user', '-c', configFile, '--account', 'sage', '--send-as', 'invoices@contoso.com'], 'Pa55word\n');
    expect(added.code, added.stderr).toBe(0);
    const usersFile = join(dir, 'data', 'users.json');
    expect(await readFile(usersFile, 'utf8')).not.toContain('Pa55word');
    expect((await new LocalUsers(usersFile).authenticate('sage-user', 'Pa55word'))?.sendAs).toEqual(['invoices@contoso.com']);

    const listed = await runCli(['user', 'list', '-c', configFile]);
    expect(listed.stdout).toBe('sage-user\taccount sage\tinvoices@contoso.com\n');

    expect((await runCli(['user', 'remove', 'sage-user', '-c', configFile])).code).toBe(0);
    expect((await runCli(['user', 'list', '-c', configFile])).stdout).toBe('No local users.\n');
  });

  it("refuses an unknown account and another account's address", { timeout: 60_000 }, async () => {
    const unknown = await runCli(['user', 'add', 'u', '-c', configFile, '--account', 'nope'], 'pw\n');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No account named "nope"/);
    const foreign = await runCli(['user', 'add', 'u', '-c', configFile, '--account', 'sage', '--send-as', 'scanner@contoso.com'], 'pw\n');
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/not an address of account "sage"/);
  });
});
