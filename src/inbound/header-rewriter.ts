/**
 * A stream that holds back the message's header block, hands it to a rewrite function, emits
 * the result and then passes the body through untouched: the message is never buffered, only
 * its header block (at most DEFAULT_HEADER_LIMIT bytes).
 *
 * Every byte first goes through the line discipline (line-discipline.ts): lone CR and lone LF
 * become CRLF, as nodemailer does upstream, so the block handed to the rewrite and to the
 * checks holds exactly the lines Exchange will read. A header block with a bare CR or a NUL,
 * one that starts with white space, or one that does not end within the limit fails the stream
 * with 550 5.6.0 (header-block.ts) instead of being read one way here and another way there.
 *
 * One transform for every header change made on the way in (sender rewriting, Received, Date
 * and Message-ID, RFC 5321 4.4 and RFC 6409 section 8): compose the functions with
 * `composeHeaderRewrites` rather than chaining transforms.
 *
 * The block is handed over as text decoded with latin1, so that bytes the function does not
 * touch come out exactly as they went in (8-bit or UTF-8 header text, RFC 6532). Text a
 * function adds must therefore be ASCII (use RFC 2047 encoded-words for anything else).
 * The block given to the function holds the header fields with their CRLF line endings and
 * without the empty line that ends the block (RFC 5322 2.1); it may be '' (no header
 * fields). What the function returns must end with CRLF unless it is ''.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { DEFAULT_HEADER_LIMIT, findHeaderEnd, headerBlockRefusal } from './header-block.js';
import { LineDiscipline } from './line-discipline.js';

/** Takes the header fields (latin1 text, see above) and returns them changed. */
export type HeaderRewrite = (headerBlock: string) => string;

export const keepHeaders: HeaderRewrite = (headerBlock) => headerBlock;

/** Applies the rewrites left to right. */
export function composeHeaderRewrites(...rewrites: readonly HeaderRewrite[]): HeaderRewrite {
  return (headerBlock) => rewrites.reduce((block, rewrite) => rewrite(block), headerBlock);
}

/** The line ending of every stored message (line-discipline.ts). */
export const EOL = '\r\n';

const CRLF = Buffer.from(EOL);

export class HeaderRewriter extends Transform {
  private readonly lines = new LineDiscipline();
  private held: Buffer = Buffer.alloc(0);
  private original: Buffer | undefined;
  private emitted: Buffer | undefined;

  constructor(
    private readonly rewrite: HeaderRewrite,
    private readonly limit = DEFAULT_HEADER_LIMIT,
  ) {
    super();
  }

  /** The header block as the client sent it (CRLF-only), decoded as UTF-8; '' before it ended. */
  get headerBlock(): string {
    return (this.original ?? Buffer.alloc(0)).toString('utf8');
  }

  /**
   * The header block as it leaves for the spool and Exchange, after every rewrite, decoded
   * as UTF-8: the one the sender checks must read (sender-policy.ts).
   */
  get emittedHeaderBlock(): string {
    return (this.emitted ?? Buffer.alloc(0)).toString('utf8');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const normalized = this.lines.normalize(chunk);
    if (this.original !== undefined) {
      callback(null, normalized);
      return;
    }
    // Look a little before the new bytes: the empty line may straddle chunks.
    const searchFrom = this.held.length - 3;
    this.held = Buffer.concat([this.held, normalized]);
    const end = findHeaderEnd(this.held, searchFrom);
    if (end !== undefined) return end <= this.limit ? this.release(end, callback) : callback(headerBlockRefusal('too-long', this.limit));
    // No empty line that could still end the block within the limit: refuse rather than cut.
    if (this.held.length >= this.limit + CRLF.length) return callback(headerBlockRefusal('too-long', this.limit));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const tail = this.lines.finish();
    if (this.original !== undefined) {
      callback(null, tail);
      return;
    }
    // A message that is all header fields, with no empty line and maybe no final line ending.
    this.held = Buffer.concat([this.held, tail]);
    const end = findHeaderEnd(this.held);
    if (end !== undefined) return end <= this.limit ? this.release(end, callback) : callback(headerBlockRefusal('too-long', this.limit));
    if (this.held.length > this.limit) return callback(headerBlockRefusal('too-long', this.limit));
    // RFC 5322 2.1: every header field ends with CRLF; give the last one its line ending.
    if (this.held.length > 0 && !this.held.subarray(-2).equals(CRLF)) this.held = Buffer.concat([this.held, CRLF]);
    this.release(this.held.length, callback);
  }

  private release(end: number, callback: TransformCallback): void {
    const original = this.held.subarray(0, end);
    const refusal = this.refusalFor(original);
    if (refusal !== undefined) return callback(refusal);
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
    this.emitted = rewritten;
    callback(null, Buffer.concat([rewritten, rest]));
  }

  /** A header block that other readers could split differently is refused, not repaired. */
  private refusalFor(block: Buffer): Error | undefined {
    // `<=`: the empty line that ends the block counts too ("From: a\r\n\rbody").
    const bareCr = this.lines.firstBareCrAt;
    if (bareCr !== undefined && bareCr <= block.length) return headerBlockRefusal('bare-cr');
    const nul = this.lines.firstNulAt;
    if (nul !== undefined && nul < block.length) return headerBlockRefusal('nul');
    // RFC 5322 2.2.3: a line that starts with white space continues the field before it; the
    // first line has none, and readers disagree on what it is then.
    if (block.length > 0 && (block[0] === 0x20 || block[0] === 0x09)) return headerBlockRefusal('leading-space');
    return undefined;
  }
}
