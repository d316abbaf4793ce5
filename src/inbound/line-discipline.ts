/**
 * One line discipline for every message the relay takes: each lone CR and each lone LF becomes
 * CRLF, across chunk boundaries, before any check reads the message.
 *
 * Why this exact rule: it is the one the upstream path applies anyway. Delivery hands the
 * spooled file to nodemailer (src/delivery/upstream-transport.ts, `sendMail({ raw })`), whose
 * SMTP DataStream turns "every bare CR and every bare LF into CRLF" before Exchange sees a byte.
 * A check that read the message with other line rules would check a different message than
 * the one delivered: `X-A: a\rFrom: ceo@...` was one field to the old `\r?\n` parser and two
 * fields to Exchange (docs/message-integrity.md). After this step the stored file and the bytes
 * upstream are the same lines, so the header checks see what Exchange reads. RFC 5322 2.3 says
 * CR and LF occur only together as CRLF; RFC 5321 2.3.8 the same for SMTP.
 *
 * It also records where the first bare CR and the first NUL landed in the output, so that the
 * header block can be refused when it holds one (header-block.ts): no legitimate program writes
 * them into header fields, and a header block with them is an attempt to be read two ways.
 */
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const CRLF_TAIL = Buffer.from([LF]);

export class LineDiscipline {
  /** Whether the last byte taken was a CR whose LF (or lack of one) is still to come. */
  private pendingCr = false;
  /** Output bytes produced so far. */
  private produced = 0;
  /** Output offset of the first CR that had no LF after it. */
  firstBareCrAt: number | undefined;
  /** Output offset of the first NUL byte. */
  firstNulAt: number | undefined;

  /** The output offset of the first bare CR or NUL, whichever came first. */
  get firstIrregularAt(): number | undefined {
    if (this.firstBareCrAt === undefined) return this.firstNulAt;
    if (this.firstNulAt === undefined) return this.firstBareCrAt;
    return Math.min(this.firstBareCrAt, this.firstNulAt);
  }

  normalize(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    // The common case (a CRLF client) costs a scan with indexOf and no copy.
    if (this.isCrlfOnly(chunk)) {
      if (this.firstNulAt === undefined) {
        const nul = chunk.indexOf(NUL);
        if (nul >= 0) this.firstNulAt = this.produced + nul;
      }
      this.produced += chunk.length;
      this.pendingCr = chunk[chunk.length - 1] === CR;
      return chunk;
    }
    const out = Buffer.allocUnsafe(chunk.length * 2 + 1);
    let written = 0;
    for (const byte of chunk) {
      if (this.pendingCr && byte !== LF) {
        // The CR before this byte was bare: it ended a line, so give it its LF.
        this.firstBareCrAt ??= this.produced + written - 1;
        out[written++] = LF;
      } else if (byte === LF && !this.pendingCr) {
        out[written++] = CR;
      }
      if (byte === NUL) this.firstNulAt ??= this.produced + written;
      out[written++] = byte;
      this.pendingCr = byte === CR;
    }
    this.produced += written;
    return out.subarray(0, written);
  }

  /** Whether every CR and LF of `chunk` is part of a CRLF (a final CR is decided by the next chunk). */
  private isCrlfOnly(chunk: Buffer): boolean {
    if (this.pendingCr && chunk[0] !== LF) return false;
    for (let at = chunk.indexOf(CR); at >= 0 && at < chunk.length - 1; at = chunk.indexOf(CR, at + 1)) {
      if (chunk[at + 1] !== LF) return false;
    }
    for (let at = chunk.indexOf(LF); at >= 0; at = chunk.indexOf(LF, at + 1)) {
      if (!(at === 0 ? this.pendingCr : chunk[at - 1] === CR)) return false;
    }
    return true;
  }

  /** What is still owed at the end of the message: the LF of a final bare CR. */
  finish(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    this.firstBareCrAt ??= this.produced - 1;
    this.produced += 1;
    return CRLF_TAIL;
  }
}
