import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readMessage, readMessageStream, type MessageFile } from './message-file.js';

const MESSAGE = Buffer.from('From: a@contoso.example\r\nSubject: Invoice 42\r\n\r\nbody\r\n');
/** Stands for the record the spool writes after the message. */
const AFTER = Buffer.from('\n{"not":"part of the message"}\n');

async function streamed(file: MessageFile, highWaterMark?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const options = highWaterMark === undefined ? {} : { highWaterMark };
  for await (const chunk of readMessageStream(file, options) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('message files', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'message-file-'));
    path = join(dir, 'm1.eml');
    await writeFile(path, Buffer.concat([MESSAGE, AFTER]));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the first size bytes of a longer file, whole or streamed', async () => {
    const file = { path, size: MESSAGE.length };
    expect(await readMessage(file)).toEqual(MESSAGE);
    expect(await streamed(file)).toEqual(MESSAGE);
    // Small chunks: the stream still stops at size, inside a chunk.
    expect(await streamed(file, 7)).toEqual(MESSAGE);
  });

  it('reads an empty message as no bytes, even from a file that holds more', async () => {
    const file = { path, size: 0 };
    expect(await readMessage(file)).toEqual(Buffer.alloc(0));
    expect(await streamed(file)).toEqual(Buffer.alloc(0));
  });

  it('refuses a file shorter than the size its record gives', async () => {
    await expect(readMessage({ path, size: MESSAGE.length + AFTER.length + 1 })).rejects.toThrow(/ends after \d+ of its \d+ bytes/);
  });

  it('fails on a missing file', async () => {
    const missing = { path: join(dir, 'gone.eml'), size: 10 };
    await expect(readMessage(missing)).rejects.toThrow(/ENOENT/);
    await expect(streamed(missing)).rejects.toThrow(/ENOENT/);
  });
});
