/**
 * Accepts bare LF line endings from devices that never learnt CRLF.
 *
 * RFC 5321 2.3.8 wants CRLF, and smtp-server's parser (SMTPStream) ends DATA only on
 * "\r\n.\r\n": a printer that ends its message with "\n.\n" would wait for our reply until the
 * idle timeout (smtp-server ends DATA only on CRLF.CRLF). RFC 5321 4.1.1.4 lets a server be lenient here, and
 * Postfix and Exchange both accept bare LF. So for the devices in listen.bareLineFeedClients,
 * and only for them, every LF the client sends without a CR before it becomes CRLF before the
 * parser sees it: commands, the DATA body and its final dot alike. For everyone else that
 * leniency is the receiving half of SMTP smuggling ("\n.\n" ending DATA early and the rest of
 * the body running as commands), so they get smtp-server's CRLF.CRLF rule unchanged
 * (docs/message-integrity.md, section 3).
 * Stored messages then hold CRLF only (RFC 5322 2.3), dot-stuffing still works ("\n..x" becomes
 * "\r\n..x", which the parser unstuffs), and 8-bit bytes other than LF pass untouched. A CRLF
 * client is unaffected byte for byte: its every LF already follows a CR.
 *
 * Where we cut in: the socket is piped into the connection's parser (`socket.pipe(parser)`,
 * smtp-connection.js `_setListeners`), and STARTTLS replaces the parser with a fresh one
 * (`upgrade()` calls `_createParser()`) that the TLS socket is piped into. `pipe` feeds the
 * parser through its public `write()`: we wrap `write` on each parser (the first one, and
 * every one `_createParser` makes later: parser-hooks.ts), so the normalizer sees the
 * plaintext after TLS.
 * Wrapping `write` and not `_write` keeps the parser's own re-feeds (it calls `_write` on the
 * rest of a chunk after a mode change) out of the normalizer.
 */
import type { Writable } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;

/** Turns bare LF into CRLF across chunks: remembers whether the last chunk ended in CR. */
export class BareLineFeedNormalizer {
  private lastWasCr = false;

  normalize(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const carriedCr = this.lastWasCr;
    this.lastWasCr = chunk[chunk.length - 1] === CR;
    const bare = countBareLineFeeds(chunk, carriedCr);
    // The common case (a CRLF client) costs one scan and no copy.
    if (bare === 0) return chunk;
    const out = Buffer.allocUnsafe(chunk.length + bare);
    let written = 0;
    let previousWasCr = carriedCr;
    for (const byte of chunk) {
      if (byte === LF && !previousWasCr) out[written++] = CR;
      out[written++] = byte;
      previousWasCr = byte === CR;
    }
    return out;
  }
}

function countBareLineFeeds(chunk: Buffer, carriedCr: boolean): number {
  let count = 0;
  for (let at = chunk.indexOf(LF); at >= 0; at = chunk.indexOf(LF, at + 1)) {
    const afterCr = at === 0 ? carriedCr : chunk[at - 1] === CR;
    if (!afterCr) count++;
  }
  return count;
}

type Write = Writable['write'];

/** Makes `parser` (an smtp-server SMTPStream) turn bare LF into CRLF before it parses. */
export function acceptBareLineFeeds(parser: Writable): void {
  // One normalizer per parser: a new parser (after STARTTLS) starts a new byte stream.
  const normalizer = new BareLineFeedNormalizer();
  const write = parser.write;
  parser.write = function writeNormalized(this: Writable, chunk: unknown, ...rest: unknown[]): boolean {
    const normalized = Buffer.isBuffer(chunk) ? normalizer.normalize(chunk) : chunk;
    return (write as (...args: unknown[]) => boolean).call(this, normalized, ...rest);
  } as Write;
}
