/** The event loop's side of the spool I/O thread, with the real thread (an `eval` worker). */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIRECTORY_FSYNC } from './durable-fs.js';
import { ACK_EVERY_BYTES, INLINE_BYTES, SpoolIo } from './spool-io.js';

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
    await file.commit(join(dir, 'big.json'), '{}\n');
    expect((await readdir(dir)).sort()).toEqual(['big.eml', 'big.json']);
  });

  it('fails what was under way when the thread dies, and starts a new one for the next message', async () => {
    // A stand-in program that dies at the first message's commit and commits every other.
    const dying = new SpoolIo(
      { folder: undefined, fileMode: 0o600, removalWaitMs: 20 },
      `const { parentPort } = require('node:worker_threads');
       parentPort.on('message', (requests) => {
         for (const request of requests) {
           if (request.op !== 'commit') continue;
           if (request.key === 1) process.exit(3);
           parentPort.postMessage([{ key: request.key }]);
         }
       });`,
    );
    try {
      const first = dying.create(join(dir, 'first.eml'));
      first.write(Buffer.from('Subject: x\r\n\r\n'));
      await expect(first.commit(join(dir, 'first.json'), '{}\n')).rejects.toThrow(/spool I\/O thread stopped \(exit code 3\)/);

      const next = dying.create(join(dir, 'next.eml'));
      next.write(Buffer.from('Subject: y\r\n\r\n'));
      await expect(next.commit(join(dir, 'next.json'), '{}\n')).resolves.toBeUndefined();
    } finally {
      await dying.close();
    }
  });

  it('removes a record, then its message once the removal is durable', async () => {
    const file = io.create(join(dir, 'm.eml'));
    file.write(Buffer.from('Subject: x\r\n\r\n'));
    await file.commit(join(dir, 'm.json'), '{}\n');

    await io.remove(join(dir, 'm.json'), join(dir, 'm.eml'));

    expect(await readdir(dir)).toEqual([]);
  });
});
