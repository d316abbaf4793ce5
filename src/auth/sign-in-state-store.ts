/**
 * The recorded sign-in state of each account, one small JSON file per account in
 * `<dataDir>/state/sign-in/<account>.json`. It holds no secret (no token, no key), so `status`
 * and the alert monitor can read it without the key store, and even while the daemon is down.
 * Written durably (tmp, fsync, rename, fsync the folder): a power cut leaves the old or the new state.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { PRIVATE_DIR_MODE, writeFileDurable } from '../core/durable-fs.js';
import type { SignInState } from '../core/sign-in-state.js';
import { dataPaths } from '../core/data-paths.js';

/** What the store needs of an account: AccountConfig satisfies it. */
export interface SignInAccountRef {
  readonly name: string;
  readonly auth: { readonly method: SignInState['method'] };
}

/** The state file exists but is not a sign-in state (hand-edited, or another program's file). */
export class SignInStateCorruptError extends Error {
  readonly path: string;

  constructor(path: string, reason: string) {
    super(`The sign-in state file ${path} cannot be read (${reason}); it is rewritten at the next sign-in or refresh.`);
    this.name = 'SignInStateCorruptError';
    this.path = path;
  }
}

export function signInStatePath(dataDir: string, account: string): string {
  return dataPaths(dataDir).signInStateOf(account);
}

/**
 * What is known before anything was recorded: a delegated account has never signed in; an
 * app-only account needs no sign-in and counts as ok until a token request says otherwise.
 */
export function defaultSignInState(account: SignInAccountRef): SignInState {
  const { method } = account.auth;
  return { version: 1, account: account.name, method, status: method === 'delegated' ? 'never-signed-in' : 'ok' };
}

/** The account's recorded state, or the default when nothing was recorded yet. */
export async function readSignInState(dataDir: string, account: SignInAccountRef): Promise<SignInState> {
  const path = signInStatePath(dataDir, account.name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultSignInState(account);
    throw error;
  }
  return parseSignInState(path, text, account);
}

/** The same, synchronously: for a provider's constructor at start-up (one small file). */
export function readSignInStateSync(dataDir: string, account: SignInAccountRef): SignInState {
  const path = signInStatePath(dataDir, account.name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultSignInState(account);
    throw error;
  }
  return parseSignInState(path, text, account);
}

/** Every account's state, in the order given (for `status` and the alert monitor). */
export function listSignInStates(dataDir: string, accounts: readonly SignInAccountRef[]): Promise<SignInState[]> {
  return Promise.all(accounts.map((account) => readSignInState(dataDir, account)));
}

export async function writeSignInState(dataDir: string, state: SignInState): Promise<void> {
  const path = signInStatePath(dataDir, state.account);
  await mkdir(dataPaths(dataDir).signInState, { recursive: true, mode: PRIVATE_DIR_MODE });
  await writeFileDurable(path, `${JSON.stringify(state, null, 2)}\n`);
}

function parseSignInState(path: string, text: string, account: SignInAccountRef): SignInState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SignInStateCorruptError(path, 'not JSON');
  }
  if (parsed === null || typeof parsed !== 'object') throw new SignInStateCorruptError(path, 'not an object');
  const state = parsed as Partial<SignInState>;
  if (state.version !== 1) throw new SignInStateCorruptError(path, `unknown version ${String(state.version)}`);
  if (state.account !== account.name) throw new SignInStateCorruptError(path, `it belongs to account "${String(state.account)}"`);
  if (state.status !== 'ok' && state.status !== 'sign-in-required' && state.status !== 'never-signed-in') {
    throw new SignInStateCorruptError(path, `unknown status "${String(state.status)}"`);
  }
  // The method follows the configuration: an account switched from app-only to delegated keeps its history.
  return { ...(state as SignInState), method: account.auth.method };
}
