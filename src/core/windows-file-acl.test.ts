import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileAclError, restrictSecretFile, secretFileAclArgs, serviceSid, type AclCommandRunner } from './windows-file-acl.js';

const RELAY_SID = 'S-1-5-80-886652742-4217963279-1411067746-2274475666-3971390689';

function recorder(code = 0, output = ''): { run: AclCommandRunner; calls: Array<{ program: string; args: readonly string[]; env: NodeJS.ProcessEnv }> } {
  const calls: Array<{ program: string; args: readonly string[]; env: NodeJS.ProcessEnv }> = [];
  return { calls, run: async (program, args, env) => (calls.push({ program, args, env }), { code, output }) };
}

describe('serviceSid', () => {
  it('is the SID Windows gives NT SERVICE\\<name> (checked against TrustedInstaller, a well-known one)', () => {
    expect(serviceSid('TrustedInstaller')).toBe('S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464');
    expect(serviceSid('smtp-oauth-relay')).toBe(RELAY_SID);
  });
});

describe('restrictSecretFile', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  async function secretFile(): Promise<string> {
    dir = await mkdtemp(join(tmpdir(), 'acl-'));
    const path = join(dir, 'secret.sealed');
    await writeFile(path, 'sealed');
    return path;
  }

  it('on Windows: icacls from System32, inheritance removed, SYSTEM, Administrators, the virtual account and the running account by SID, clean environment', async () => {
    const path = await secretFile();
    const { run, calls } = recorder();
    const env = { SystemRoot: 'C:\\Windows', SMTP_OAUTH_RELAY_ACCOUNT_SID: 'S-1-5-19', SMTP_OAUTH_RELAY_SECRET: 'must-not-leak', USERNAME: 'admin' };
    await restrictSecretFile(path, { platform: 'win32', env, run });
    expect(calls).toEqual([
      {
        program: 'C:\\Windows\\System32\\icacls.exe',
        args: [path, '/inheritance:r', '/grant:r', '*S-1-5-18:(F)', '*S-1-5-32-544:(F)', `*${RELAY_SID}:(F)`, '*S-1-5-19:(F)'],
        env: { SystemRoot: 'C:\\Windows' },
      },
    ]);
  });

  it('grants the running account once: the virtual account itself is not repeated, a terminal user is named DOMAIN\\user', () => {
    expect(secretFileAclArgs('C:\\d\\k', { SMTP_OAUTH_RELAY_ACCOUNT_SID: RELAY_SID }).slice(3)).toEqual(['*S-1-5-18:(F)', '*S-1-5-32-544:(F)', `*${RELAY_SID}:(F)`]);
    expect(secretFileAclArgs('C:\\d\\k', { USERDOMAIN: 'CONTOSO', USERNAME: 'jdoe' }).at(-1)).toBe('CONTOSO\\jdoe:(F)');
    expect(secretFileAclArgs('C:\\d\\k', { SMTP_OAUTH_RELAY_ACCOUNT_SID: 'S-1-5-19) /grant Everyone' }).at(-1)).toBe(`*${RELAY_SID}:(F)`);
  });

  it('never runs icacls on a file that does not exist', async () => {
    dir = await mkdtemp(join(tmpdir(), 'acl-'));
    const { run, calls } = recorder();
    await expect(restrictSecretFile(join(dir, 'missing'), { platform: 'win32', env: {}, run })).rejects.toThrow(FileAclError);
    expect(calls).toEqual([]);
  });

  it('an icacls failure is an error naming the file and what icacls said', async () => {
    const path = await secretFile();
    await expect(restrictSecretFile(path, { platform: 'win32', env: {}, run: recorder(5, 'Access is denied.').run })).rejects.toThrow(/secret\.sealed .*Access is denied/);
  });

  it('does nothing outside Windows (mode 0600 already restricts it)', async () => {
    const path = await secretFile();
    const { run, calls } = recorder();
    await restrictSecretFile(path, { platform: 'linux', env: {}, run });
    expect(calls).toEqual([]);
  });
});
