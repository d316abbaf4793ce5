/**
 * Password hashes for local SMTP users: scrypt (RFC 7914) from node:crypto, stored as
 * `scrypt$N$r$p$salt$hash` (salt and hash base64) so the cost can rise later without
 * breaking stored users. N = 2^15, r = 8, p = 1: 32 MiB per check, OWASP's "Password Storage
 * Cheat Sheet" lists 2^17 as the strongest setting and equivalent lower-memory trade-offs;
 * 2^15 keeps repeated AUTH attempts from eating the relay's memory (attempts are throttled,
 * auth-throttle.ts). Comparison is constant-time (timingSafeEqual).
 *
 * The daemon verifies through a `Derive` function that runs in its own worker thread
 * (scrypt-threads.ts), never on the libuv pool the spool's file I/O needs; `hashPassword`
 * (the `user add` command) uses node's asynchronous scrypt.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const COST = 2 ** 15;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** What scrypt needs besides the password; `maxmem` already set. */
export interface ScryptJob {
  readonly salt: Buffer;
  readonly length: number;
  readonly options: ScryptOptions & { readonly N: number; readonly r: number; readonly p: number; readonly maxmem: number };
}

/** Computes the scrypt key of an NFC-normalized password. */
export type Derive = (password: string, job: ScryptJob) => Promise<Buffer>;

function scryptOptions(N: number, r: number, p: number): ScryptJob['options'] {
  // maxmem must exceed 128 * N * r bytes, which is exactly Node's 32 MiB default at N = 2^15.
  return { N, r, p, maxmem: 256 * N * r };
}

/** node:crypto's asynchronous scrypt (on the libuv thread pool). */
export const deriveOnThreadPool: Derive = (password, { salt, length, options }) =>
  new Promise((resolve, reject) => {
    scrypt(password, salt, length, options, (err, key) => (err === null ? resolve(key) : reject(err)));
  });

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveOnThreadPool(password.normalize('NFC'), { salt, length: KEY_BYTES, options: scryptOptions(COST, BLOCK_SIZE, PARALLELISM) });
  return ['scrypt', COST, BLOCK_SIZE, PARALLELISM, salt.toString('base64'), key.toString('base64')].join('$');
}

/** A stored hash taken apart; undefined when it is malformed. */
export function parseStoredHash(stored: string): { readonly job: ScryptJob; readonly expected: Buffer } | undefined {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return undefined;
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  if (![N, R, P].every((value) => Number.isInteger(value) && value > 0)) return undefined;
  const expected = Buffer.from(hash, 'base64');
  if (expected.length === 0) return undefined;
  return { job: { salt: Buffer.from(salt, 'base64'), length: expected.length, options: scryptOptions(N, R, P) }, expected };
}

/** True when `password` matches `stored`; false for a wrong password or a malformed hash. */
export async function verifyPassword(password: string, stored: string, derive: Derive = deriveOnThreadPool): Promise<boolean> {
  const parsed = parseStoredHash(stored);
  if (parsed === undefined) return false;
  const actual = await derive(password.normalize('NFC'), parsed.job);
  return actual.length === parsed.expected.length && timingSafeEqual(actual, parsed.expected);
}

/** A hash to compare against when the user does not exist, so both cases take the same time. */
export const UNKNOWN_USER_HASH = `scrypt$${COST}$${BLOCK_SIZE}$${PARALLELISM}$${Buffer.alloc(SALT_BYTES).toString('base64')}$${Buffer.alloc(KEY_BYTES).toString('base64')}`;
