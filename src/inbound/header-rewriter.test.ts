import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { composeHeaderRewrites, HeaderRewriter, keepHeaders, lineEndingOf, type HeaderRewrite } from './header-rewriter.js';

async function run(chunks: readonly (string | Buffer)[], rewrite: HeaderRewrite, limit?: number) {
  const rewriter = new HeaderRewriter(rewrite, limit);
  const out = buffer(Readable.from(chunks.map((chunk) => Buffer.from(chunk))).pipe(rewriter));
  return { out: (await out).toString('utf8'), headerBlock: rewriter.headerBlock };
}

const addField = (field: string): HeaderRewrite => (block) => `${block}${field}${lineEndingOf(block)}`;

describe('HeaderRewriter', () => {
  it('rewrites the header block and passes the body through untouched', async () => {
    const seen: string[] = [];
    const { out, headerBlock } = await run(['From: a@x\r\nSubj', 'ect: hi\r\n\r', '\nFrom: body@x\r\n', 'more\r\n'], (block) => {
      seen.push(block);
      return block.replace('From: a@x', 'From: b@y');
    });
    expect(seen).toEqual(['From: a@x\r\nSubject: hi\r\n']);
    expect(out).toBe('From: b@y\r\nSubject: hi\r\n\r\nFrom: body@x\r\nmore\r\n');
    expect(headerBlock).toBe('From: a@x\r\nSubject: hi\r\n');
  });

  it('composes rewrites left to right and keeps the line ending of the message', async () => {
    const rewrite = composeHeaderRewrites(addField('X-One: 1'), addField('X-Two: 2'));
    expect((await run(['From: a@x\n\nbody\n'], rewrite)).out).toBe('From: a@x\nX-One: 1\nX-Two: 2\n\nbody\n');
    expect((await run(['From: a@x\r\n\r\nbody'], rewrite)).out).toBe('From: a@x\r\nX-One: 1\r\nX-Two: 2\r\n\r\nbody');
  });

  it('keeps 8-bit header bytes it does not touch exactly as they came', async () => {
    const message = Buffer.concat([Buffer.from('From: Élise <a@x>\r\nX-Latin: '), Buffer.from([0xe9]), Buffer.from('\r\n\r\nbody')]);
    const rewriter = new HeaderRewriter(addField('X-Added: yes'));
    const out = await buffer(Readable.from([message]).pipe(rewriter));
    expect(out.equals(Buffer.concat([message.subarray(0, message.length - 6), Buffer.from('X-Added: yes\r\n\r\nbody')]))).toBe(true);
    expect(rewriter.headerBlock.startsWith('From: Élise <a@x>\r\n')).toBe(true);
  });

  it('hands an empty block over when the message starts with an empty line', async () => {
    expect((await run(['\r\nbody'], addField('Date: d'))).out).toBe('Date: d\r\n\r\nbody');
  });

  it('rewrites a message that has no empty line at all, at the end of the stream', async () => {
    expect((await run(['From: a@x\r\nSubject: s\r\n'], addField('X-A: 1'))).out).toBe('From: a@x\r\nSubject: s\r\nX-A: 1\r\n');
  });

  it('cuts an endless header block at the limit and passes the rest on', async () => {
    const long = `From: a@x\r\nX-Filler: ${'y'.repeat(100)}\r\n\r\nbody`;
    const seen: string[] = [];
    const { out } = await run([long], (block) => (seen.push(block), block), 40);
    expect(seen).toEqual(['From: a@x\r\n']);
    expect(out).toBe(long);
  });

  it('fails the stream when the rewrite throws', async () => {
    const rewriter = new HeaderRewriter(() => {
      throw new Error('boom');
    });
    await expect(buffer(Readable.from([Buffer.from('A: b\r\n\r\n')]).pipe(rewriter))).rejects.toThrow('boom');
  });

  it('keepHeaders changes nothing', async () => {
    expect((await run(['A: b\r\n\r\nc'], keepHeaders)).out).toBe('A: b\r\n\r\nc');
  });
});
