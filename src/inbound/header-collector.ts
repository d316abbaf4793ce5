/**
 * A pass-through stream that keeps a copy of the message's header block while the message
 * streams on to the spool: the message itself is never buffered, only its first lines.
 *
 * The header block ends at the first empty line (RFC 5322 2.1). Legacy devices sometimes
 * send bare LF line endings, so an empty line is "\n\n" as well as "\r\n\r\n". The copy is
 * capped (DEFAULT_HEADER_LIMIT): a header block that does not end by then is cut at the last
 * complete line, which still holds the From field of any sane message.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** Far above what real header blocks use, small enough to keep per connection. */
export const DEFAULT_HEADER_LIMIT = 256 * 1024;

const LF = 0x0a;

export class HeaderCollector extends Transform {
  private captured: Buffer = Buffer.alloc(0);
  private complete = false;

  constructor(private readonly limit = DEFAULT_HEADER_LIMIT) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.complete) this.capture(chunk);
    callback(null, chunk);
  }

  /** The header block seen so far, decoded as UTF-8 (RFC 6532 allows UTF-8 in fields). */
  get headerBlock(): string {
    const block = this.complete ? this.captured : this.captured.subarray(0, this.captured.lastIndexOf(LF) + 1);
    return block.toString('utf8');
  }

  private capture(chunk: Buffer): void {
    // Start the search a little before the new bytes: the empty line may straddle chunks.
    const searchFrom = Math.max(0, this.captured.length - 2);
    const room = this.limit - this.captured.length;
    this.captured = Buffer.concat([this.captured, chunk.subarray(0, room)]);
    const end = findHeaderEnd(this.captured, searchFrom);
    if (end !== undefined) {
      this.captured = this.captured.subarray(0, end);
      this.complete = true;
      return;
    }
    if (this.captured.length >= this.limit) {
      this.captured = this.captured.subarray(0, this.captured.lastIndexOf(LF) + 1);
      this.complete = true;
    }
  }
}

/** Where the empty line that ends the header block starts, or undefined if not seen yet. */
export function findHeaderEnd(bytes: Buffer, searchFrom = 0): number | undefined {
  const text = bytes.toString('latin1');
  // A message that starts with an empty line has no header fields at all.
  if (/^\r?\n/.test(text)) return 0;
  const pattern = /\n\r?\n/g;
  pattern.lastIndex = searchFrom;
  const match = pattern.exec(text);
  return match === null ? undefined : match.index + 1;
}
