/**
 * A stream that holds back the message's header block, hands it to a rewrite function, emits
 * the result and then passes the body through untouched: the message is never buffered, only
 * its header block (capped like HeaderCollector's copy).
 *
 * One transform for every header change made on the way in (sender rewriting, Date and
 * Message-ID added when missing, RFC 6409 section 8): compose the functions with
 * `composeHeaderRewrites` rather than chaining transforms.
 *
 * The block is handed over as text decoded with latin1, so that bytes the function does not
 * touch come out exactly as they went in (8-bit or UTF-8 header text, RFC 6532). Text a
 * function adds must therefore be ASCII (use RFC 2047 encoded-words for anything else).
 * The block given to the function holds the header fields with their line endings and
 * without the empty line that ends the block (RFC 5322 2.1); it may be '' (no header
 * fields). What the function returns must end with a line ending unless it is ''.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { DEFAULT_HEADER_LIMIT, findHeaderEnd } from './header-collector.js';

/** Takes the header fields (latin1 text, see above) and returns them changed. */
export type HeaderRewrite = (headerBlock: string) => string;

export const keepHeaders: HeaderRewrite = (headerBlock) => headerBlock;

/** Applies the rewrites left to right. */
export function composeHeaderRewrites(...rewrites: readonly HeaderRewrite[]): HeaderRewrite {
  return (headerBlock) => rewrites.reduce((block, rewrite) => rewrite(block), headerBlock);
}

/** The line ending the message uses: devices that send bare LF get bare LF back. */
export function lineEndingOf(headerBlock: string): '\r\n' | '\n' {
  const firstLf = headerBlock.indexOf('\n');
  return firstLf > 0 && headerBlock[firstLf - 1] !== '\r' ? '\n' : '\r\n';
}

const LF = 0x0a;

export class HeaderRewriter extends Transform {
  private held: Buffer = Buffer.alloc(0);
  private original: Buffer | undefined;

  constructor(
    private readonly rewrite: HeaderRewrite,
    private readonly limit = DEFAULT_HEADER_LIMIT,
  ) {
    super();
  }

  /**
   * The header block as the client sent it, decoded as UTF-8 (the same as
   * HeaderCollector.headerBlock): for checks on what the client wrote, e.g. the From field.
   */
  get headerBlock(): string {
    return (this.original ?? this.held.subarray(0, this.held.lastIndexOf(LF) + 1)).toString('utf8');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.original !== undefined) {
      callback(null, chunk);
      return;
    }
    // Look a little before the new bytes: the empty line may straddle chunks.
    const searchFrom = Math.max(0, this.held.length - 2);
    this.held = Buffer.concat([this.held, chunk]);
    const end = findHeaderEnd(this.held, searchFrom);
    if (end !== undefined && end <= this.limit) return this.release(end, callback);
    if (this.held.length >= this.limit) {
      // No end in sight: cut at the last complete line within the limit, pass the rest on.
      return this.release(this.held.subarray(0, this.limit).lastIndexOf(LF) + 1, callback);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    // A message that is all header fields, with no empty line and maybe no final line ending.
    if (this.original === undefined) return this.release(this.held.lastIndexOf(LF) + 1, callback);
    callback();
  }

  private release(end: number, callback: TransformCallback): void {
    const original = this.held.subarray(0, end);
    const rest = this.held.subarray(end);
    this.original = original;
    this.held = Buffer.alloc(0);
    let rewritten: Buffer;
    try {
      rewritten = Buffer.from(this.rewrite(original.toString('latin1')), 'latin1');
    } catch (err) {
      callback(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    callback(null, Buffer.concat([rewritten, rest]));
  }
}
