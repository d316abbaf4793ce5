import { mkdtemp, readFile, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addUser, listUsers, LocalUsers, readUsersFile, removeUser, usersFilePath } from './local-users.js';
import { hashPassword, verifyPassword } from './password-hash.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'users-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('password hashes', () => {
  it('are salted scrypt and verify only the right password', async () => {
    const one = await hashPassword('s3cret');
    const two = await hashPassword('s3cret');
    expect(one).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(one).not.toBe(two);
    expect(await verifyPassword('s3cret', one)).toBe(true);
    expect(await verifyPassword('s3cret!', one)).toBe(false);
    expect(await verifyPassword('s3cret', 'plain$s3cret')).toBe(false);
  });
});

describe('users.json', () => {
  it('adds users with hashes only, mode 0600, and lists them without hashes', async () => {
    const path = usersFilePath(dir);
    await addUser(path, 'sage', 'pw-sage', { account: 'sage', sendAs: ['invoices@contoso.com'] });
    await addUser(path, 'scanner', 'pw-scan', { account: 'scanner', rewriteSender: true });
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain('pw-sage');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(listUsers(await readUsersFile(path))).toEqual([
      { name: 'sage', account: 'sage', sendAs: ['invoices@contoso.com'], rewriteSender: false },
      { name: 'scanner', account: 'scanner', sendAs: undefined, rewriteSender: true },
    ]);
    expect(await removeUser(path, 'sage')).toBe(true);
    expect(await removeUser(path, 'sage')).toBe(false);
    expect(Object.keys((await readUsersFile(path)).users)).toEqual(['scanner']);
  });

  it('refuses bad user names and empty passwords', async () => {
    const path = usersFilePath(dir);
    await expect(addUser(path, 'has space', 'pw', { account: 'sage' })).rejects.toThrow(/not a valid user name/);
    await expect(addUser(path, 'ok', '', { account: 'sage' })).rejects.toThrow(/empty/);
  });

  it('LocalUsers authenticates and sees changes on disk without a restart', async () => {
    const path = usersFilePath(dir);
    const users = new LocalUsers(path);
    expect(await users.authenticate('sage', 'pw')).toBeUndefined(); // no file yet
    await addUser(path, 'sage', 'pw', { account: 'sage' });
    expect((await users.authenticate('sage', 'pw'))?.account).toBe('sage');
    expect(await users.authenticate('sage', 'wrong')).toBeUndefined();
    expect(await users.authenticate('nobody', 'pw')).toBeUndefined();
    await addUser(path, 'sage', 'new-pw', { account: 'sage' });
    // Same second on a coarse file system: the size/inode still changes, but make mtime move too.
    const later = new Date(Date.now() + 5000);
    await utimes(path, later, later);
    expect(await users.authenticate('sage', 'pw')).toBeUndefined();
    expect((await users.authenticate('sage', 'new-pw'))?.name).toBe('sage');
    await removeUser(path, 'sage');
    expect(await users.authenticate('sage', 'new-pw')).toBeUndefined();
  });
});
