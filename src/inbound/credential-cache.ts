/**
 * Verified local credentials, so that a program that logs in again on every connection
 * (Sage 100 sends user and password for each document) pays the scrypt check once, not per
 * message (docs/performance.md).
 *
 * What is kept is never the password: an HMAC-SHA256, under a random key made when the
 * process starts and never written anywhere, of the user name, the password and the stored
 * hash the password was checked against. Binding the stored hash means a new password (or a
 * re-added user: new salt) can never match an old entry, even before the users file is
 * re-read; the owner (local-users.ts) also empties the cache whenever the file changes.
 * Entries expire TTL_MS after their check and at most MAX_ENTRIES are kept (the oldest goes).
 * Only successful checks are remembered; a wrong password always takes the full check, so the
 * slowdown for guessing (auth-throttle.ts) stays as it was. Comparison is constant-time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { systemClock, type Clock } from '../core/clock.js';

/** How long a verified login is remembered: a working day's batches re-check a few times. */
export const TTL_MS = 15 * 60 * 1000;
/** Local users are a handful; this bounds the memory whatever the file holds. */
export const MAX_ENTRIES = 256;

interface Entry {
  readonly digest: Buffer;
  readonly expiresAt: number;
}

export class CredentialCache {
  private readonly key = randomBytes(32);
  /** By user name; Map order is insertion order, so the first entry is the oldest. */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock = systemClock) {}

  /** The keyed digest of a login; also used to let identical checks in flight share one. */
  digest(user: string, password: string, storedHash: string): Buffer {
    return createHmac('sha256', this.key).update(user).update('\0').update(password).update('\0').update(storedHash).digest();
  }

  /** True when this exact user, password and stored hash were verified within TTL_MS. */
  verified(user: string, digest: Buffer): boolean {
    const entry = this.entries.get(user);
    if (entry === undefined) return false;
    if (entry.expiresAt <= this.clock.now()) {
      this.entries.delete(user);
      return false;
    }
    return timingSafeEqual(entry.digest, digest);
  }

  /** Call only after a successful check. */
  remember(user: string, digest: Buffer): void {
    this.entries.delete(user);
    this.entries.set(user, { digest, expiresAt: this.clock.now() + TTL_MS });
    while (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
