/**
 * The local SMTP users in <dataDir>/users.json: who may AUTH to the relay, which account
 * each one sends for, and which of that account's addresses it may use. Passwords are only
 * ever stored as scrypt hashes (password-hash.ts); the file is written durably, mode 0600.
 *
 * The daemon sees users added or removed by `smtp-oauth-relay user ...` without a restart:
 * `LocalUsers` stats the file on every AUTH and reads it again when its mtime, size or inode
 * moved (the file is replaced by rename, so every change gives a new inode), emptying the
 * cache of verified logins at the same moment (credential-cache.ts).
 *
 * Password checks go through the bounded queue (kdf-queue.ts) to scrypt worker threads
 * (scrypt-threads.ts); identical logins arriving together share one check.
 */
import { statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { PRIVATE_DIR_MODE, writeFileDurable } from '../core/durable-fs.js';
import { restrictSecretFile } from '../core/windows-file-acl.js';
import { systemClock, type Clock } from '../core/clock.js';
import { CredentialCache } from './credential-cache.js';
import { KdfAbortedError, KdfQueue } from './kdf-queue.js';
import { hashPassword, UNKNOWN_USER_HASH, verifyPassword, type Derive } from './password-hash.js';
import { ScryptThreads } from './scrypt-threads.js';
import { dataPaths } from '../core/data-paths.js';

/**
 * One scrypt at a time: it holds 32 MiB and a core for ~100 ms, and the other core stays with
 * mail intake on a 2-core machine. Sixteen waiting (~2 s of work) before 454.
 */
export const KDF_CONCURRENCY = 1;
export const MAX_KDF_WAITING = 16;

export function usersFilePath(dataDir: string): string {
  return dataPaths(dataDir).users;
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
  // Password hashes are secrets too: on Windows only SYSTEM, Administrators and the service account.
  await restrictSecretFile(path);
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

export interface LocalUsersOptions {
  readonly clock?: Clock;
  /** The bounded line of password checks; KDF_CONCURRENCY and MAX_KDF_WAITING by default. */
  readonly queue?: KdfQueue;
  /** scrypt itself; worker threads by default. */
  readonly derive?: Derive;
}

/** The users file as the daemon reads it: reloaded when it changes on disk. */
export class LocalUsers {
  private loaded: { readonly stamp: string; readonly file: UsersFile } | undefined;
  private readonly cache: CredentialCache;
  private readonly queue: KdfQueue;
  private readonly derive: Derive;
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    readonly path: string,
    options: LocalUsersOptions = {},
  ) {
    this.cache = new CredentialCache(options.clock ?? systemClock);
    this.queue = options.queue ?? new KdfQueue(KDF_CONCURRENCY, MAX_KDF_WAITING);
    this.derive = options.derive ?? new ScryptThreads(this.queue.concurrency).derive;
  }

  /**
   * The user when name and password match, otherwise undefined. Rejects with KdfBusyError
   * when the line of checks is full, with KdfAbortedError when `signal` fired first.
   */
  async authenticate(name: string, password: string, signal?: AbortSignal): Promise<LocalUser | undefined> {
    const file = await this.current();
    const stored = Object.hasOwn(file.users, name) ? file.users[name] : undefined;
    const hash = stored?.hash ?? UNKNOWN_USER_HASH;
    const digest = this.cache.digest(name, password, hash);
    if (stored !== undefined && this.cache.verified(name, digest)) return toLocalUser(name, stored);
    // Hash even for an unknown name so that timing does not tell which names exist.
    const matches = await this.check(digest.toString('base64'), password, hash, signal);
    if (stored === undefined || !matches) return undefined;
    // Only if the file did not change meanwhile: otherwise the next AUTH checks again.
    if (this.loaded?.file === file) this.cache.remember(name, digest);
    return toLocalUser(name, stored);
  }

  private check(key: string, password: string, hash: string, signal: AbortSignal | undefined): Promise<boolean> {
    const shared = this.inFlight.get(key);
    if (shared !== undefined) {
      // The client that started it went away before it ran: check again for this one.
      return shared.catch((err: unknown) =>
        err instanceof KdfAbortedError && signal?.aborted !== true ? this.check(key, password, hash, signal) : Promise.reject(err),
      );
    }
    const started = this.queue
      .run(() => verifyPassword(password, hash, this.derive), signal)
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  private async current(): Promise<UsersFile> {
    // statSync: one cheap local call on every AUTH, where fs/promises' hand-over to the thread
    // pool and back cost each login about 45 us (docs/performance.md, "The local AUTH path").
    const info = statSync(this.path, { throwIfNoEntry: false });
    const stamp = info === undefined ? 'missing' : `${info.mtimeMs}:${info.size}:${info.ino}`;
    if (this.loaded?.stamp !== stamp) {
      // A user added, removed or given a new password: no earlier login counts any more.
      this.cache.clear();
      this.loaded = { stamp, file: await readUsersFile(this.path) };
    }
    return this.loaded.file;
  }
}
