/** The event loop's side of the spool I/O thread, with the real thread (an `eval` worker). */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIRECTORY_FSYNC } from './durable-fs.js';
import { ACK_EVERY_BYTES, INLINE_BYTES } from './spool-file-writer.js';
import { SpoolIo } from './spool-io.js';

let dir: string;
let io: SpoolIo;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-io-host-'));
  io = new SpoolIo({ folder: DIRECTORY_FSYNC ? dir : undefined, fileMode: 0o600, removalWaitMs: 20 });
});

afterEach(async () => {
  await io.close();
  await rm(dir, { recursive: true, force: true });
});

describe('SpoolIo', () => {
  it('writes a message larger than the inline limit as it comes, and waits for the thread every so often', async () => {
    const file = io.create(join(dir, 'big.eml'));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let waits = 0;
    for (let sent = 0; sent < 4 * INLINE_BYTES; sent += chunk.length) {
      const caughtUp = file.write(chunk);
      if (caughtUp !== undefined) {
        waits += 1;
        await caughtUp;
      }
    }
    await file.end();
    // Past the inline limit, the thread has the bytes before the commit.
    expect((await readFile(join(dir, 'big.eml'))).length).toBe(4 * INLINE_BYTES);
    expect(waits).toBeGreaterThanOrEqual((3 * INLINE_BYTES) / ACK_EVERY_BYTES - 1);
    await file.commit(Buffer.from('TRAILER'));
    expect(await readdir(dir)).toEqual(['big.eml']);
    const written = await readFile(join(dir, 'big.eml'));
    expect(written.length).toBe(4 * INLINE_BYTES + 'TRAILER'.length);
    expect(written.subarray(-'TRAILER'.length).toString()).toBe('TRAILER');
  });

  it('fails what was under way when the thread dies, and starts a new one for the next message', async () => {
    // A stand-in program that answers removals after 50 ms (so that a commit meanwhile goes to
    // the thread, not to this event loop) and dies at the commit of first.eml.
    const dying = new SpoolIo(
      { folder: undefined, fileMode: 0o600, removalWaitMs: 20 },
      `const { parentPort } = require('node:worker_threads');
       const paths = new Map();
       parentPort.on('message', (requests) => {
         for (const request of requests) {
           if (request.op === 'open') paths.set(request.key, request.path);
           if (request.op === 'remove') setTimeout(() => parentPort.postMessage([{ key: request.key }]), 50);
           if (request.op !== 'commit') continue;
           if (paths.get(request.key).endsWith('first.eml')) process.exit(3);
           parentPort.postMessage([{ key: request.key }]);
         }
       });`,
    );
    try {
      const removal = dying.remove(join(dir, 'a.eml'), join(dir, 'a.json'));
      const first = dying.create(join(dir, 'first.eml'));
      first.write(Buffer.from('Subject: x\r\n\r\n'));
      await expect(first.commit(Buffer.from('{}\n'))).rejects.toThrow(/spool I\/O thread stopped \(exit code 3\)/);
      await expect(removal).rejects.toThrow(/exit code 3/);

      const nextRemoval = dying.remove(join(dir, 'b.eml'), join(dir, 'b.json'));
      const next = dying.create(join(dir, 'next.eml'));
      next.write(Buffer.from('Subject: y\r\n\r\n'));
      await expect(next.commit(Buffer.from('{}\n'))).resolves.toBeUndefined();
      await expect(nextRemoval).resolves.toBeUndefined();
    } finally {
      await dying.close();
    }
  });

  it('commits an ordinary message on this event loop when nothing else is under way', async () => {
    // A thread would fail the commit at once: it succeeds, so it never went there.
    const noThread = new SpoolIo({ folder: DIRECTORY_FSYNC ? dir : undefined, fileMode: 0o600, removalWaitMs: 20 }, 'process.exit(4);');
    try {
      const file = noThread.create(join(dir, 'here.eml'));
      file.write(Buffer.from('Subject: here\r\n\r\nbody\r\n'));
      await file.commit(Buffer.from('{"id":"here"}\n'));
      expect(await readdir(dir)).toEqual(['here.eml']);
      expect(await readFile(join(dir, 'here.eml'), 'utf8')).toBe('Subject: here\r\n\r\nbody\r\n{"id":"here"}\n');

      // With that commit under way, the next one goes to the thread, which fails it.
      const one = noThread.create(join(dir, 'one.eml'));
      one.write(Buffer.from('Subject: 1\r\n\r\n'));
      const two = noThread.create(join(dir, 'two.eml'));
      two.write(Buffer.from('Subject: 2\r\n\r\n'));
      const [oneResult, twoResult] = await Promise.allSettled([one.commit(Buffer.from('{}\n')), two.commit(Buffer.from('{}\n'))]);
      expect(oneResult.status).toBe('fulfilled');
      expect(twoResult).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/exit code 4/) } });
    } finally {
      await noThread.close();
    }
  });

  it('removes a message, then its record file once the removal is durable', async () => {
    const file = io.create(join(dir, 'm.eml'));
    file.write(Buffer.from('Subject: x\r\n\r\n'));
    await file.commit(Buffer.from('{}\n'));
    await writeFile(join(dir, 'm.json'), '{}\n');

    await io.remove(join(dir, 'm.eml'), join(dir, 'm.json'));

    expect(await readdir(dir)).toEqual([]);
  });

  it('removes a message that has no record file at once, without waiting for a folder fsync', async () => {
    // A removal that waited would take removalWaitMs: an hour here, so the test would time out.
    const patient = new SpoolIo({ folder: DIRECTORY_FSYNC ? dir : undefined, fileMode: 0o600, removalWaitMs: 3_600_000 });
    try {
      await writeFile(join(dir, 'lone.eml'), 'Subject: x\r\n\r\n');
      await patient.remove(join(dir, 'lone.eml'), join(dir, 'lone.json'));
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await patient.close();
    }
  });
});
