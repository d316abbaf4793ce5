/**
 * The local SMTP users in <dataDir>/users.json: who may AUTH to the relay, which account
 * each one sends for, and which of that account's addresses it may use. Passwords are only
 * ever stored as scrypt hashes (password-hash.ts); the file is written durably, mode 0600.
 *
 * The daemon sees users added or removed by `smtp-oauth-relay user ...` without a restart:
 * `LocalUsers` stats the file on every AUTH and reads it again when its mtime or size moved.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { PRIVATE_DIR_MODE, writeFileDurable } from '../core/durable-fs.js';
import { hashPassword, UNKNOWN_USER_HASH, verifyPassword } from './password-hash.js';

export const USERS_FILE_NAME = 'users.json';

export function usersFilePath(dataDir: string): string {
  return join(dataDir, USERS_FILE_NAME);
}

const storedUserSchema = z.strictObject({
  hash: z.string().startsWith('scrypt$'),
  account: z.string().min(1),
  sendAs: z.array(z.string()).optional(),
  rewriteSender: z.boolean().optional(),
});

const usersFileSchema = z.strictObject({
  version: z.literal(1),
  users: z.record(z.string(), storedUserSchema),
});

export type StoredUser = z.infer<typeof storedUserSchema>;
export type UsersFile = z.infer<typeof usersFileSchema>;

/** A user as the policy sees it (no hash). */
export interface LocalUser {
  readonly name: string;
  readonly account: string;
  /** When present, the user may send only as these addresses of its account. */
  readonly sendAs?: readonly string[] | undefined;
  readonly rewriteSender: boolean;
}

export interface UserSettings {
  readonly account: string;
  readonly sendAs?: readonly string[] | undefined;
  readonly rewriteSender?: boolean | undefined;
}

/** User names go into logs and SASL; keep them to printable ASCII without spaces. */
const USER_NAME = /^[A-Za-z0-9._@+-]{1,128}$/;

export async function readUsersFile(path: string): Promise<UsersFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, users: {} };
    throw err;
  }
  const parsed = usersFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path} is not a valid users file: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

async function writeUsersFile(path: string, file: UsersFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  await writeFileDurable(path, `${JSON.stringify(file, null, 2)}\n`);
}

/** Adds the user, or replaces its password and settings when it exists. */
export async function addUser(path: string, name: string, password: string, settings: UserSettings): Promise<void> {
  if (!USER_NAME.test(name)) throw new Error(`"${name}" is not a valid user name (letters, digits and . _ @ + -)`);
  if (password === '') throw new Error('the password is empty');
  const file = await readUsersFile(path);
  const user: StoredUser = { hash: await hashPassword(password), account: settings.account };
  if (settings.sendAs !== undefined && settings.sendAs.length > 0) user.sendAs = [...settings.sendAs];
  if (settings.rewriteSender === true) user.rewriteSender = true;
  await writeUsersFile(path, { version: 1, users: { ...file.users, [name]: user } });
}

/** False when there was no such user. */
export async function removeUser(path: string, name: string): Promise<boolean> {
  const file = await readUsersFile(path);
  if (!Object.hasOwn(file.users, name)) return false;
  const users = { ...file.users };
  delete users[name];
  await writeUsersFile(path, { version: 1, users });
  return true;
}

export function listUsers(file: UsersFile): LocalUser[] {
  return Object.entries(file.users)
    .map(([name, stored]) => toLocalUser(name, stored))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function toLocalUser(name: string, stored: StoredUser): LocalUser {
  return { name, account: stored.account, sendAs: stored.sendAs, rewriteSender: stored.rewriteSender === true };
}

/** The users file as the daemon reads it: reloaded when it changes on disk. */
export class LocalUsers {
  private loaded: { readonly stamp: string; readonly file: UsersFile } | undefined;

  constructor(readonly path: string) {}

  /** The user when name and password match, otherwise undefined. */
  async authenticate(name: string, password: string): Promise<LocalUser | undefined> {
    const file = await this.current();
    const stored = Object.hasOwn(file.users, name) ? file.users[name] : undefined;
    // Hash even for an unknown name so that timing does not tell which names exist.
    const matches = await verifyPassword(password, stored?.hash ?? UNKNOWN_USER_HASH);
    if (stored === undefined || !matches) return undefined;
    return toLocalUser(name, stored);
  }

  private async current(): Promise<UsersFile> {
    const stamp = await stat(this.path).then(
      (info) => `${info.mtimeMs}:${info.size}:${info.ino}`,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return 'missing';
        throw err;
      },
    );
    if (this.loaded?.stamp !== stamp) this.loaded = { stamp, file: await readUsersFile(this.path) };
    return this.loaded.file;
  }
}
