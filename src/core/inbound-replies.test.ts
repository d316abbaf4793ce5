import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INBOUND_REPLIES, inboundReply, inboundReplyLine } from './inbound-replies.js';

const SRC = join(import.meta.dirname, '..');

function productionFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => join(dir, name));
}

/**
 * Files inbound does not own yet: the sender policy's refusals are reworded there by the
 * rewriteSender work and join the table afterwards (see the header of inbound-replies.ts).
 */
const NOT_YET_IN_TABLE = new Set(['sender-policy.ts']);

describe('the catalogue of inbound replies', () => {
  it('every row is used by src/inbound or src/queue', () => {
    const sources = [...productionFiles(join(SRC, 'inbound')), ...productionFiles(join(SRC, 'queue'))]
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const unused = Object.keys(INBOUND_REPLIES).filter((id) => !sources.includes(`'${id}'`));
    expect(unused).toEqual([]);
  });

  it('src/inbound writes no reply code of its own outside the table', () => {
    // An SmtpReplyError built by hand, or a connection.send with a literal code.
    const inlineReply = /new SmtpReplyError\(|\.send\(\s*[245]\d\d\b|code:\s*[45]\d\d\b/;
    const offenders = productionFiles(join(SRC, 'inbound'))
      .filter((file) => !NOT_YET_IN_TABLE.has(file.split(/[\\/]/).pop() ?? ''))
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, index) => ({ where: `${file}:${index + 1}`, line }))
          .filter(({ line }) => inlineReply.test(line)),
      );
    expect(offenders).toEqual([]);
  });

  it('a row becomes the reply a client reads: code, enhanced code, text', () => {
    expect(inboundReply('message-too-big', 1000).reply).toBe('552 5.3.4 Message exceeds the maximum size of 1000 bytes');
    expect(inboundReply('shutting-down').isTransient).toBe(true);
    expect(inboundReplyLine('session-deadline', 60)).toEqual({ code: 421, text: '4.4.2 Session open longer than 60 s; closing the connection' });
  });

  it('a disk failure and a shutdown have one wording each', () => {
    const texts = (ids: (keyof typeof INBOUND_REPLIES)[]) => new Set(ids.map((id) => (INBOUND_REPLIES[id].text as () => string)()));
    expect(texts(['shutting-down', 'spool-closed']).size).toBe(1);
    expect(INBOUND_REPLIES['store-failed'].enhancedCode).toBe('4.3.0');
  });

  it('every row cites its source and its code class matches its enhanced code', () => {
    for (const [id, row] of Object.entries(INBOUND_REPLIES)) {
      expect(row.source, id).toMatch(/RFC \d+/);
      expect(row.enhancedCode[0], id).toBe(String(row.code)[0]);
    }
  });
});
