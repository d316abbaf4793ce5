import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { composeHeaderRewrites, EOL, HeaderRewriter, keepHeaders, type HeaderRewrite } from './header-rewriter.js';

async function run(chunks: readonly (string | Buffer)[], rewrite: HeaderRewrite, limit?: number) {
  const rewriter = new HeaderRewriter(rewrite, limit);
  const out = buffer(Readable.from(chunks.map((chunk) => Buffer.from(chunk))).pipe(rewriter));
  return { out: (await out).toString('utf8'), headerBlock: rewriter.headerBlock };
}

const addField = (field: string): HeaderRewrite => (block) => `${block}${field}${EOL}`;

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

  it('composes rewrites left to right; bare LF and bare CR in the body become CRLF, as upstream', async () => {
    const rewrite = composeHeaderRewrites(addField('X-One: 1'), addField('X-Two: 2'));
    expect((await run(['From: a@x\n\nbody\n'], rewrite)).out).toBe('From: a@x\r\nX-One: 1\r\nX-Two: 2\r\n\r\nbody\r\n');
    expect((await run(['From: a@x\r\n\r\nb\rod', 'y\r'], rewrite)).out).toBe('From: a@x\r\nX-One: 1\r\nX-Two: 2\r\n\r\nb\r\nody\r\n');
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
    expect((await run(['From: a@x\r\nSubject: s'], addField('X-A: 1'))).out).toBe('From: a@x\r\nSubject: s\r\nX-A: 1\r\n');
  });

  it('refuses a header block that does not end within the limit, instead of passing the rest as body', async () => {
    const long = `From: a@x\r\nX-Filler: ${'y'.repeat(100)}\r\nFrom: ceo@x\r\n\r\nbody`;
    await expect(run([long], keepHeaders, 40)).rejects.toThrow(/^5\.6\.0 Header block does not end within 40 bytes/);
    await expect(run([long.slice(0, 60), long.slice(60)], keepHeaders, 40)).rejects.toThrow(/^5\.6\.0 /);
    // Just within the limit: the fields are 39 bytes, the empty line follows.
    expect((await run(['A: 1234567890123456789012345678901234\r\n\r\nb'], keepHeaders, 39)).out).toBe('A: 1234567890123456789012345678901234\r\n\r\nb');
  });

  it('refuses a bare CR or a NUL anywhere in the header block, its empty line included, with 550 5.6.0', async () => {
    const refused = async (message: string): Promise<string> => {
      try {
        await run([...message].map((c) => c), keepHeaders);
      } catch (err) {
        return `${(err as { responseCode?: number }).responseCode} ${(err as Error).message}`;
      }
      return 'accepted';
    };
    expect(await refused('X-A: a\rFrom: "Chief Executive" <ceo@contoso.example>\r\n\r\nbody')).toMatch(/^550 5\.6\.0 Header block contains a CR without LF/);
    expect(await refused('From: a@x\r\r\nFrom: b@y\r\n\r\nbody')).toMatch(/^550 5\.6\.0 .*CR without LF/);
    expect(await refused('From: a@x\r\n\rbody')).toMatch(/^550 5\.6\.0 .*CR without LF/);
    expect(await refused('From: a@x\0\r\n\r\nbody')).toMatch(/^550 5\.6\.0 Header block contains a NUL/);
    expect(await refused(' From: a@x\r\n\r\nbody')).toMatch(/^550 5\.6\.0 Header block starts with white space/);
    // In the body both are data (the line discipline still gives a bare CR its LF).
    expect(await refused('From: a@x\r\n\r\nbo\rdy\0\r\n')).toBe('accepted');
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
