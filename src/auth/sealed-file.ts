/**
 * A file whose content is sealed with AES-256-GCM (NIST SP 800-38D), so that the token cache and
 * client secrets are never on disk in plain text.
 *
 * Layout: "SOR1" (magic and format version) | 12-byte random nonce | ciphertext | 16-byte tag.
 * The purpose (e.g. "msal-cache:sage") and the magic are the additional authenticated data:
 * a file sealed for one account or use does not open as another's, even with the same key.
 * A random 96-bit nonce per write stays far below GCM's 2^32-messages-per-key bound.
 *
 * A file that does not open is moved aside and reported, never replaced or deleted: it may be
 * the only copy of a sign-in, and the administrator decides what to do with it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { moveDurable, PRIVATE_DIR_MODE, writeFileDurable } from '../core/durable-fs.js';
import { restrictSecretFile } from '../core/windows-file-acl.js';
import { KEY_BYTES } from './key-store.js';

const MAGIC = Buffer.from('SOR1', 'ascii');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';

/** Seals `plaintext` for `purpose`; the result is the whole file. */
export function seal(plaintext: Buffer, key: Buffer, purpose: string): Buffer {
  if (key.length !== KEY_BYTES) throw new Error(`AES-256-GCM needs a ${KEY_BYTES}-byte key`);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(purpose));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([MAGIC, nonce, ciphertext, cipher.getAuthTag()]);
}

/** Why a sealed file does not open: not ours, truncated, altered, other purpose or other key. */
export class UnsealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsealError';
  }
}

/** Opens a file made by `seal` with the same key and purpose; throws UnsealError otherwise. */
export function unseal(file: Buffer, key: Buffer, purpose: string): Buffer {
  if (!file.subarray(0, MAGIC.length).equals(MAGIC)) throw new UnsealError('the file does not start with the SOR1 mark');
  if (file.length < MAGIC.length + NONCE_BYTES + TAG_BYTES) throw new UnsealError('the file is too short to be sealed');
  if (key.length !== KEY_BYTES) throw new Error(`AES-256-GCM needs a ${KEY_BYTES}-byte key`);
  const nonce = file.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES);
  const ciphertext = file.subarray(MAGIC.length + NONCE_BYTES, file.length - TAG_BYTES);
  const tag = file.subarray(file.length - TAG_BYTES);
  const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData(purpose));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new UnsealError('authentication failed: the file was altered, or sealed with another key or for another purpose');
  }
}

function additionalData(purpose: string): Buffer {
  return Buffer.concat([MAGIC, Buffer.from(purpose, 'utf8')]);
}

/** A sealed file did not open; it was moved to `movedTo` and is still there. */
export class SealedFileCorruptError extends Error {
  readonly path: string;
  readonly movedTo: string;
  readonly reason: string;

  constructor(path: string, movedTo: string, reason: string) {
    super(`${path} could not be decrypted (${reason}); it was moved to ${movedTo}`);
    this.name = 'SealedFileCorruptError';
    this.path = path;
    this.movedTo = movedTo;
    this.reason = reason;
  }
}

export interface SealedFileOptions {
  readonly path: string;
  /** What the content is for, bound into the seal, e.g. "msal-cache:sage". */
  readonly purpose: string;
  /** The key, or where to get it when first needed (e.g. from the keychain). */
  readonly key: Buffer | (() => Promise<Buffer>);
  /** Names the set-aside copy; the system clock by default. */
  readonly clock?: Clock;
}

export class SealedFile {
  readonly path: string;
  private readonly purpose: string;
  private readonly keySource: () => Promise<Buffer>;
  private readonly clock: Clock;

  constructor(options: SealedFileOptions) {
    this.path = options.path;
    this.purpose = options.purpose;
    const { key } = options;
    this.keySource = typeof key === 'function' ? key : () => Promise.resolve(key);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * The content, or undefined when the file does not exist. A file that does not open is moved
   * to `<name>.corrupt-<time>` and SealedFileCorruptError says where.
   */
  async read(): Promise<Buffer | undefined> {
    let file: Buffer;
    try {
      file = await readFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const key = await this.keySource();
    try {
      return unseal(file, key, this.purpose);
    } catch (error) {
      if (!(error instanceof UnsealError)) throw error;
      const movedTo = await this.setAside();
      throw new SealedFileCorruptError(this.path, movedTo, error.message);
    }
  }

  /** Replaces the content atomically and durably (tmp file, fsync, rename, fsync folder). */
  async write(data: Buffer): Promise<void> {
    const key = await this.keySource();
    await mkdir(dirname(this.path), { recursive: true, mode: PRIVATE_DIR_MODE });
    await writeFileDurable(this.path, seal(data, key, this.purpose));
    await restrictSecretFile(this.path); // Windows: only SYSTEM, Administrators, the service account
  }

  private async setAside(): Promise<string> {
    // ISO time without ":" so that the name is valid on Windows too.
    const stamp = new Date(this.clock.now()).toISOString().replace(/[:.]/g, '-');
    let movedTo = join(dirname(this.path), `${basename(this.path)}.corrupt-${stamp}`);
    // Never overwrite an earlier set-aside copy that happens to carry the same time.
    for (let n = 1; await exists(movedTo); n += 1) movedTo = join(dirname(this.path), `${basename(this.path)}.corrupt-${stamp}-${n}`);
    await moveDurable(this.path, movedTo);
    return movedTo;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
