import { describe, expect, it } from 'vitest';
import { LineDiscipline } from './line-discipline.js';

/** Feeds `chunks` and returns the output, like nodemailer's DataStream without dot-stuffing. */
function normalize(chunks: readonly string[]): { out: string; discipline: LineDiscipline } {
  const discipline = new LineDiscipline();
  const parts = chunks.map((chunk) => discipline.normalize(Buffer.from(chunk, 'latin1')));
  parts.push(discipline.finish());
  return { out: Buffer.concat(parts).toString('latin1'), discipline };
}

describe('LineDiscipline', () => {
  it('turns every lone CR and lone LF into CRLF and leaves CRLF alone, across chunks', () => {
    expect(normalize(['a\r\nb\nc\rd']).out).toBe('a\r\nb\r\nc\r\nd');
    expect(normalize(['a\r', '\nb\r', 'c\r']).out).toBe('a\r\nb\r\nc\r\n');
    expect(normalize(['\r\r\n\n\r']).out).toBe('\r\n\r\n\r\n\r\n');
    expect(normalize(['']).out).toBe('');
  });

  it('records where the first bare CR and the first NUL landed in the output', () => {
    const { discipline } = normalize(['ab\r\nc', 'd\r', 'x\0\r']);
    expect(discipline.firstBareCrAt).toBe(6);
    expect(discipline.firstNulAt).toBe(9);
    expect(discipline.firstIrregularAt).toBe(6);
    expect(normalize(['a\r\nb\n']).discipline.firstIrregularAt).toBeUndefined();
    expect(normalize(['a\r']).discipline.firstBareCrAt).toBe(1);
  });

  it('matches a byte-for-byte model of the upstream rule on random input', () => {
    let seed = 7;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 2000; n++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 20) }, () => ['\r', '\n', 'a', '\0'][Math.floor(next() * 4)]).join('');
      // The upstream rule as a regular expression: CRLF stays, a lone CR or LF becomes CRLF.
      const expected = text.replace(/\r\n|\r|\n/g, '\r\n');
      const cut = Math.floor(next() * text.length);
      expect(normalize([text.slice(0, cut), text.slice(cut)]).out).toBe(expected);
    }
  });
});
