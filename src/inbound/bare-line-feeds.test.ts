import { describe, expect, it } from 'vitest';
import { BareLineFeedNormalizer } from './bare-line-feeds.js';

function normalize(chunks: readonly (string | Buffer)[]): Buffer {
  const normalizer = new BareLineFeedNormalizer();
  return Buffer.concat(chunks.map((chunk) => normalizer.normalize(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'))));
}

describe('BareLineFeedNormalizer', () => {
  it('turns bare LF into CRLF and leaves CRLF alone', () => {
    expect(normalize(['a\nb\r\nc\n']).toString('latin1')).toBe('a\r\nb\r\nc\r\n');
    expect(normalize(['\n\n.\n']).toString('latin1')).toBe('\r\n\r\n.\r\n');
  });

  it('returns a CRLF chunk itself, without a copy', () => {
    const chunk = Buffer.from('EHLO x\r\nMAIL FROM:<a@x>\r\n');
    expect(new BareLineFeedNormalizer().normalize(chunk)).toBe(chunk);
  });

  it('remembers a CR at the end of the previous chunk', () => {
    expect(normalize(['line\r', '\nnext\n']).toString('latin1')).toBe('line\r\nnext\r\n');
    expect(normalize(['line\n', '\nnext']).toString('latin1')).toBe('line\r\n\r\nnext');
    expect(normalize(['a\r', 'b\n']).toString('latin1')).toBe('a\rb\r\n');
  });

  it('leaves bare CR and every other byte, 8-bit and NUL included, untouched', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x0d, 0x41, 0x80, 0x0a, 0xe9]);
    expect([...normalize([bytes])]).toEqual([0x00, 0xff, 0x0d, 0x41, 0x80, 0x0d, 0x0a, 0xe9]);
  });
});
