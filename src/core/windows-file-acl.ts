/**
 * Windows: a file that holds a secret (a sealed secret or token cache, a key file) is readable by
 * SYSTEM, Administrators and the service account only, whatever folder it sits in. POSIX gets the
 * same from mode 0600; on Windows the mode bits mean nothing and a new file inherits its folder's
 * ACL, which for a data folder outside %ProgramData%\smtp-oauth-relay may let Users read.
 *
 * icacls is run with inheritance removed and the grants replaced ("icacls", Microsoft Learn:
 * https://learn.microsoft.com/windows-server/administration/windows-commands/icacls), naming
 * accounts by SID so that it works on every language of Windows ("Administrators" is
 * "Administratoren" on a German server), with a clean environment: a child must not inherit the
 * secrets a configuration may name by clientSecretEnv. Applied right after each write: a rename
 * keeps the new file's ACL, and every write is a new file (see durable-fs.ts).
 * See docs/windows-service.md.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';

/** Well-known SIDs ("Well-known SIDs", Microsoft Learn). */
export const SYSTEM_SID = 'S-1-5-18';
export const ADMINISTRATORS_SID = 'S-1-5-32-544';

/** The Windows service host puts its own account's SID here, in the relay's environment. */
export const ACCOUNT_SID_ENV = 'SMTP_OAUTH_RELAY_ACCOUNT_SID';

/**
 * The SID of the virtual account NT SERVICE\<name>: S-1-5-80 followed by the SHA-1 of the
 * upper-cased name in UTF-16LE, read as five little-endian 32-bit numbers (the service SID that
 * `sc showsid` prints). Known before the service exists, and the same on every machine.
 */
export function serviceSid(serviceName: string): string {
  const digest = createHash('sha1').update(Buffer.from(serviceName.toUpperCase(), 'utf16le')).digest();
  const parts = [0, 4, 8, 12, 16].map((offset) => digest.readUInt32LE(offset));
  return `S-1-5-80-${parts.join('-')}`;
}

export type AclCommandRunner = (program: string, args: readonly string[], env: NodeJS.ProcessEnv) => Promise<{ code: number; output: string }>;

export interface FileAclOptions {
  readonly platform?: NodeJS.Platform;
  readonly env?: NodeJS.ProcessEnv;
  readonly run?: AclCommandRunner;
  /** The service whose virtual account is granted (smtp-oauth-relay). */
  readonly serviceName?: string;
}

export class FileAclError extends Error {
  constructor(path: string, detail: string) {
    super(`could not restrict ${path} to SYSTEM, Administrators and the service account (icacls: ${detail}); check the folder's permissions`);
    this.name = 'FileAclError';
  }
}

/** icacls' arguments: inheritance off, only these accounts, full control each. */
export function secretFileAclArgs(path: string, env: NodeJS.ProcessEnv, serviceName = 'smtp-oauth-relay'): string[] {
  const grants = [`*${SYSTEM_SID}`, `*${ADMINISTRATORS_SID}`, `*${serviceSid(serviceName)}`];
  const running = runningAccount(env);
  if (running !== undefined && !grants.includes(running)) grants.push(running);
  return [path, '/inheritance:r', '/grant:r', ...grants.map((account) => `${account}:(F)`)];
}

/** Restricts the file on Windows; elsewhere its 0600 mode already does. The file must exist. */
export async function restrictSecretFile(path: string, options: FileAclOptions = {}): Promise<void> {
  if ((options.platform ?? process.platform) !== 'win32') return;
  const env = options.env ?? process.env;
  // icacls on a name that is not there would "succeed" on nothing: never run it blind.
  const found = await stat(path).catch(() => undefined);
  if (found?.isFile() !== true) throw new FileAclError(path, 'the file does not exist');
  const systemRoot = env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows';
  const run = options.run ?? execFileRunner;
  const result = await run(`${systemRoot}\\System32\\icacls.exe`, secretFileAclArgs(path, env, options.serviceName), { SystemRoot: systemRoot });
  if (result.code !== 0) throw new FileAclError(path, result.output.trim() || `exit code ${result.code}`);
}

/**
 * Who runs the relay, so that it can still read what it wrote: the service host's account (by
 * SID), or the user of a terminal (DOMAIN\user). undefined when neither is known.
 */
function runningAccount(env: NodeJS.ProcessEnv): string | undefined {
  const sid = env[ACCOUNT_SID_ENV];
  if (sid !== undefined && /^S-1-\d+(-\d+)+$/.test(sid)) return `*${sid}`;
  const user = env.USERNAME;
  if (user === undefined || user === '') return undefined;
  return env.USERDOMAIN === undefined || env.USERDOMAIN === '' ? user : `${env.USERDOMAIN}\\${user}`;
}

const execFileRunner: AclCommandRunner = (program, args, env) =>
  new Promise((resolve) => {
    execFile(program, [...args], { env, windowsHide: true, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: `${stderr}${stdout}${error !== null && typeof error.code !== 'number' ? error.message : ''}` });
    });
  });
