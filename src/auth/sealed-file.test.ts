import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { seal, SealedFile, SealedFileCorruptError, unseal, UnsealError } from './sealed-file.js';

let dir: string;
const key = randomBytes(32);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealed-file-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('seal and unseal', () => {
  it('round-trips and never carries the plain text', () => {
    const plain = Buffer.from('refresh-token-0123456789');
    const sealed = seal(plain, key, 'msal-cache:sage');
    expect(sealed.subarray(0, 4).toString('ascii')).toBe('SOR1');
    // magic + nonce + ciphertext (same length as the plain text in GCM) + tag
    expect(sealed.length).toBe(4 + 12 + plain.length + 16);
    expect(sealed.includes(plain)).toBe(false);
    expect(unseal(sealed, key, 'msal-cache:sage').equals(plain)).toBe(true);
  });

  it('uses a fresh nonce for every seal', () => {
    const plain = Buffer.from('same');
    expect(seal(plain, key, 'p').equals(seal(plain, key, 'p'))).toBe(false);
  });

  it('refuses another purpose, another key and a flipped byte', () => {
    const sealed = seal(Buffer.from('secret'), key, 'msal-cache:sage');
    expect(() => unseal(sealed, key, 'msal-cache:scanner')).toThrow(UnsealError);
    expect(() => unseal(sealed, randomBytes(32), 'msal-cache:sage')).toThrow(UnsealError);
    const flipped = Buffer.from(sealed);
    flipped[20] = (flipped[20] ?? 0) ^ 0x01;
    expect(() => unseal(flipped, key, 'msal-cache:sage')).toThrow(/authentication failed/);
    expect(() => unseal(Buffer.from('SOR1'), key, 'msal-cache:sage')).toThrow(/too short/);
  });
});

describe('SealedFile', () => {
  it('is undefined while absent, then reads back what was written, owner-only', async () => {
    const file = new SealedFile({ path: join(dir, 'tokens', 'sage.msal.sealed'), purpose: 'msal-cache:sage', key });
    expect(await file.read()).toBeUndefined();
    await file.write(Buffer.from('{"RefreshToken":{}}'));
    expect((await file.read())?.toString()).toBe('{"RefreshToken":{}}');
    expect((await readFile(file.path)).includes(Buffer.from('RefreshToken'))).toBe(false);
    if (process.platform !== 'win32') {
      expect((await stat(file.path)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, 'tokens'))).mode & 0o777).toBe(0o700);
    }
    // No temporary file is left behind.
    expect(await readdir(join(dir, 'tokens'))).toEqual(['sage.msal.sealed']);
  });

  it('gets its key lazily from a key source', async () => {
    let calls = 0;
    const file = new SealedFile({ path: join(dir, 'a.sealed'), purpose: 'p', key: () => Promise.resolve((calls++, key)) });
    expect(calls).toBe(0);
    await file.write(Buffer.from('x'));
    expect((await file.read())?.toString()).toBe('x');
    expect(calls).toBe(2);
  });

  it('does not open a file sealed for another purpose, and keeps it aside', async () => {
    const path = join(dir, 'scanner.msal.sealed');
    await new SealedFile({ path, purpose: 'msal-cache:sage', key }).write(Buffer.from('sage tokens'));
    const clock = new ManualClock(Date.UTC(2026, 10, 22, 9, 30, 15, 123));
    const error = await new SealedFile({ path, purpose: 'msal-cache:scanner', key, clock }).read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SealedFileCorruptError);
    const corrupt = error as SealedFileCorruptError;
    expect(corrupt.movedTo).toBe(`${path}.corrupt-2026-11-22T09-30-15-123Z`);
    // Moved, not deleted: the original sealed bytes are intact at the reported name.
    expect(unseal(await readFile(corrupt.movedTo), key, 'msal-cache:sage').toString()).toBe('sage tokens');
    expect(corrupt.message).toContain(corrupt.movedTo);
  });

  it('moves a file with a flipped byte aside, reports where, and reads as absent afterwards', async () => {
    const path = join(dir, 'sage.msal.sealed');
    const clock = new ManualClock();
    const file = new SealedFile({ path, purpose: 'msal-cache:sage', key, clock });
    await file.write(Buffer.from('tokens'));
    const bytes = await readFile(path);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x80;
    await writeFile(path, bytes);

    const error = (await file.read().catch((e: unknown) => e)) as SealedFileCorruptError;
    expect(error).toBeInstanceOf(SealedFileCorruptError);
    expect((await readFile(error.movedTo)).equals(bytes)).toBe(true);
    expect(await file.read()).toBeUndefined();

    // A second corrupt file at the same instant does not overwrite the first set-aside copy.
    await writeFile(path, bytes);
    const second = (await file.read().catch((e: unknown) => e)) as SealedFileCorruptError;
    expect(second.movedTo).not.toBe(error.movedTo);
    expect((await readdir(dir)).sort()).toEqual([error.movedTo, second.movedTo].map((p) => p.slice(dir.length + 1)).sort());
  });

  it('moves a file that is not sealed at all aside', async () => {
    const path = join(dir, 'plain.sealed');
    await writeFile(path, '{"plain":"json"}');
    const error = (await new SealedFile({ path, purpose: 'p', key }).read().catch((e: unknown) => e)) as SealedFileCorruptError;
    expect(error.reason).toMatch(/SOR1/);
    expect(await readFile(error.movedTo, 'utf8')).toBe('{"plain":"json"}');
  });
});
