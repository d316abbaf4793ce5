/**
 * The verified-credential cache and the bounded password-check path, against the real users
 * file, the real scrypt and the real AUTH hook. The derivation is wrapped only to count the
 * checks, or to hold one in progress so that the queue's state is known (no timing asserted).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SMTPServerSession } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const WAIT = { timeout: 20_000, interval: 10 };
import { silentLogger } from '../core/logger.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { AuthThrottle, FREE_FAILURES } from './auth-throttle.js';
import { CredentialCache, TTL_MS } from './credential-cache.js';
import { KdfAbortedError, KdfBusyError, KdfQueue } from './kdf-queue.js';
import { createAuthHook } from './local-auth.js';
import { addUser, LocalUsers, removeUser, usersFilePath } from './local-users.js';
import { deriveOnThreadPool, type Derive } from './password-hash.js';
import { ScryptThreads } from './scrypt-threads.js';
import { SessionSignals } from './session-signals.js';

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'password-checks-'));
  path = usersFilePath(dir);
  await addUser(path, 'sage', 'sage-pw', { account: 'sage' });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The real scrypt, counting how often it runs. */
function countingDerive(inner: Derive = deriveOnThreadPool): { derive: Derive; readonly calls: number } {
  let calls = 0;
  return {
    derive: (password, job) => ((calls += 1), inner(password, job)),
    get calls() {
      return calls;
    },
  };
}

/** The real scrypt, but each derivation waits until the test releases it. */
function heldDerive(): { derive: Derive; started: number; release: () => void } {
  const gates: Array<() => void> = [];
  const held = {
    started: 0,
    derive: (password: string, job: Parameters<Derive>[1]) => {
      held.started += 1;
      return new Promise<void>((resolve) => gates.push(resolve)).then(() => deriveOnThreadPool(password, job));
    },
    release: () => gates.splice(0).forEach((open) => open()),
  };
  return held;
}

describe('verified-credential cache', () => {
  it('the second login of the same user costs no scrypt; a wrong password is never accepted from the cache', async () => {
    const counted = countingDerive();
    const users = new LocalUsers(path, { derive: counted.derive });
    expect((await users.authenticate('sage', 'sage-pw'))?.name).toBe('sage');
    expect(counted.calls).toBe(1);
    expect((await users.authenticate('sage', 'sage-pw'))?.name).toBe('sage');
    expect(counted.calls).toBe(1);
    for (const wrong of ['sage-p', 'sage-pw ', 'SAGE-PW', '']) {
      expect(await users.authenticate('sage', wrong)).toBeUndefined();
    }
    // Every wrong password took the full check (and the brute-force cost with it).
    expect(counted.calls).toBe(5);
    expect(await users.authenticate('other', 'sage-pw')).toBeUndefined();
    expect(counted.calls).toBe(6);
  });

  it('a password change invalidates the cache at once, and so does removing the user', async () => {
    const counted = countingDerive();
    const users = new LocalUsers(path, { derive: counted.derive });
    expect(await users.authenticate('sage', 'sage-pw')).toBeDefined();
    expect(await users.authenticate('sage', 'sage-pw')).toBeDefined();
    expect(counted.calls).toBe(1);

    await addUser(path, 'sage', 'new-pw', { account: 'sage' });
    expect(await users.authenticate('sage', 'sage-pw')).toBeUndefined();
    expect(counted.calls).toBe(2);
    expect((await users.authenticate('sage', 'new-pw'))?.name).toBe('sage');

    await removeUser(path, 'sage');
    expect(await users.authenticate('sage', 'new-pw')).toBeUndefined();
  });

  it("binds the stored hash, forgets after the TTL, and keeps a bounded number of entries", async () => {
    const clock = new ManualClock();
    const cache = new CredentialCache(clock);
    const digest = cache.digest('sage', 'pw', 'scrypt$hash-1');
    cache.remember('sage', digest);
    expect(cache.verified('sage', cache.digest('sage', 'pw', 'scrypt$hash-1'))).toBe(true);
    expect(cache.verified('sage', cache.digest('sage', 'pw', 'scrypt$hash-2'))).toBe(false);
    expect(cache.verified('sage', cache.digest('sage', 'pw2', 'scrypt$hash-1'))).toBe(false);
    // Another process's key makes other digests: nothing computed elsewhere matches.
    expect(cache.verified('sage', new CredentialCache(clock).digest('sage', 'pw', 'scrypt$hash-1'))).toBe(false);
    await clock.advance(TTL_MS);
    expect(cache.verified('sage', digest)).toBe(false);
    for (let i = 0; i < 1000; i += 1) cache.remember(`user${i}`, digest);
    expect(cache.size).toBeLessThanOrEqual(256);
  });

  it('identical logins arriving together share one check', async () => {
    const counted = countingDerive();
    const users = new LocalUsers(path, { derive: counted.derive });
    const all = await Promise.all(Array.from({ length: 8 }, () => users.authenticate('sage', 'sage-pw')));
    expect(all.every((user) => user?.name === 'sage')).toBe(true);
    expect(counted.calls).toBe(1);
  });

  it('the worker-thread scrypt gives the same answers as node:crypto scrypt', async () => {
    const threads = new ScryptThreads(1);
    try {
      const users = new LocalUsers(path, { derive: threads.derive });
      expect(await users.authenticate('sage', 'sage-pw')).toBeDefined();
      expect(await users.authenticate('sage', 'wrong')).toBeUndefined();
    } finally {
      await threads.stop();
    }
  });
});

const session = (id: string) => ({ id, remoteAddress: '127.0.0.1', secure: false }) as unknown as SMTPServerSession;
type Answer = { err: (Error & { responseCode?: number }) | null | undefined; user: unknown };

function hookWith(users: LocalUsers, clock = new ManualClock()) {
  const sessions = new SessionSignals();
  const throttle = new AuthThrottle(clock);
  const hook = createAuthHook({ mode: 'optional', users, throttle, logger: silentLogger(), sessions });
  const answers: Answer[] = [];
  const auth = (s: SMTPServerSession, password: string): Promise<Answer> =>
    new Promise((resolve) =>
      hook({ method: 'PLAIN', username: 'sage', password, validatePassword: () => false } as never, s, (err, response) => {
        const answer = { err, user: response?.user };
        answers.push(answer);
        resolve(answer);
      }),
    );
  return { sessions, throttle, auth, answers, clock };
}

describe('bounded password checks', () => {
  it('refuses with 454 4.7.0 when the line of checks is full', async () => {
    const held = heldDerive();
    const queue = new KdfQueue(1, 1);
    const users = new LocalUsers(path, { derive: held.derive, queue });
    const h = hookWith(users);
    const running = h.auth(session('a'), 'pw-a');
    await vi.waitFor(() => expect(held.started).toBe(1), WAIT);
    const waiting = h.auth(session('b'), 'pw-b');
    // The users file is read first (a stat per AUTH): wait until b is in line too.
    await vi.waitFor(() => expect(queue.load).toEqual({ running: 1, waiting: 1 }), WAIT);
    const refused = await h.auth(session('c'), 'pw-c');
    expect(refused.err?.responseCode).toBe(454);
    expect(refused.err?.message).toMatch(/^4\.7\.0 /);
    expect(held.started).toBe(1);
    // The two admitted ones are answered normally once scrypt runs.
    const release = setInterval(held.release, 5);
    try {
      expect((await running).err?.responseCode).toBe(535);
      expect((await waiting).err?.responseCode).toBe(535);
    } finally {
      clearInterval(release);
    }
  });

  it("drops a disconnected client's check: no scrypt for it, no reply", async () => {
    const held = heldDerive();
    const queue = new KdfQueue(1, 4);
    const users = new LocalUsers(path, { derive: held.derive, queue });
    const h = hookWith(users);
    const first = h.auth(session('a'), 'sage-pw');
    await vi.waitFor(() => expect(held.started).toBe(1), WAIT);
    const gone = session('b');
    void h.auth(gone, 'pw-b');
    // b is in line behind a when its client disconnects.
    await vi.waitFor(() => expect(queue.load).toEqual({ running: 1, waiting: 1 }), WAIT);
    h.sessions.closed(gone);
    expect(queue.load).toEqual({ running: 1, waiting: 0 });
    held.release();
    expect((await first).user).toMatchObject({ kind: 'local' });
    await vi.waitFor(() => expect(queue.load).toEqual({ running: 0, waiting: 0 }), WAIT);
    expect(held.started).toBe(1);
    expect(h.answers).toHaveLength(1);
  });

  it('a throttled client that disconnects during its delay costs no scrypt', async () => {
    const counted = countingDerive();
    const users = new LocalUsers(path, { derive: counted.derive });
    const h = hookWith(users);
    for (let i = 0; i < FREE_FAILURES; i += 1) h.throttle.recordFailure('127.0.0.1');
    const gone = session('x');
    void h.auth(gone, 'guess');
    h.sessions.closed(gone);
    await h.clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(counted.calls).toBe(0);
    expect(h.answers).toHaveLength(0);
  });

  it('KdfQueue rejects a job whose signal fired while it waited, and runs the next one', async () => {
    const queue = new KdfQueue(1, 2);
    let open!: () => void;
    const first = queue.run(() => new Promise<string>((resolve) => (open = () => resolve('first'))));
    const controller = new AbortController();
    const dropped = queue.run(() => Promise.resolve('dropped'), controller.signal);
    const next = queue.run(() => Promise.resolve('next'));
    await expect(queue.run(() => Promise.resolve('over'))).rejects.toBeInstanceOf(KdfBusyError);
    controller.abort();
    await expect(dropped).rejects.toBeInstanceOf(KdfAbortedError);
    expect(queue.load).toEqual({ running: 1, waiting: 1 });
    open();
    expect(await first).toBe('first');
    expect(await next).toBe('next');
  });
});
