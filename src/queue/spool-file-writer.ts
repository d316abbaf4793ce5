/**
 * One message file on its way to the spool I/O thread (spool-io.ts): an ordinary message held
 * in memory until its commit, a larger one streamed to the thread as it arrives.
 */
import type { SpoolIo } from './spool-io.js';
import type { SpoolIoRequest } from './spool-io-thread.js';

/** Messages up to this size are posted whole with their commit. */
export const INLINE_BYTES = 256 * 1024;
/** Beyond INLINE_BYTES, the message goes to the thread in posts of this size... */
const STREAM_POST_BYTES = 64 * 1024;
/** ...and waits for the thread's acknowledgement this often: at most this much is in flight. */
export const ACK_EVERY_BYTES = 128 * 1024;

/** One message file on its way to the thread (or, for an ordinary one, to SpoolIo.runsHere). */
export class SpoolFileWriter {
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private streaming = false;
  private unacknowledged = 0;
  private finished = false;

  constructor(
    private readonly io: SpoolIo,
    private readonly key: number,
    readonly path: string,
  ) {}

  /** Resolves at once, or when the thread has caught up (large messages). Rejects on a disk error. */
  write(chunk: Buffer): Promise<void> | undefined {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes <= (this.streaming ? STREAM_POST_BYTES : INLINE_BYTES)) return undefined;
    const requests: SpoolIoRequest[] = this.streaming ? [] : [{ op: 'open', key: this.key, path: this.path }];
    this.streaming = true;
    this.unacknowledged += this.heldBytes;
    const ack = this.unacknowledged >= ACK_EVERY_BYTES;
    if (ack) this.unacknowledged = 0;
    requests.push(...this.takeHeld(ack));
    const caughtUp = ack ? this.io.expect(this.key) : undefined;
    this.io.post(requests, transferList(requests));
    return caughtUp;
  }

  /** The input ended: a streamed message's last bytes go to the thread, which is waited for. */
  end(): Promise<void> | undefined {
    if (!this.streaming) return undefined;
    this.unacknowledged = 0;
    const requests = this.takeHeld(true);
    const caughtUp = this.io.expect(this.key);
    this.io.post(requests, transferList(requests));
    return caughtUp;
  }

  /**
   * Appends `trailer` (the record, record-trailer.ts) and makes the file and the folder durable,
   * or removes the file. An ordinary message and its trailer reach the disk in one write.
   */
  commit(trailer: Uint8Array): Promise<void> {
    this.finished = true;
    this.held.push(trailer);
    this.heldBytes += trailer.length;
    const requests: SpoolIoRequest[] = this.streaming ? [] : [{ op: 'open', key: this.key, path: this.path }];
    requests.push(...this.takeHeld(false), { op: 'commit', key: this.key });
    const here = !this.streaming && this.io.runsHere();
    const answered = this.io.expect(this.key, here);
    this.io.post(requests, here ? [] : transferList(requests), here);
    return answered;
  }

  /** Drops the file: nothing was acknowledged. Safe to call more than once, and after a failed commit. */
  abort(): Promise<void> {
    this.held = [];
    if (!this.streaming || this.finished) return Promise.resolve();
    this.finished = true;
    const answered = this.io.expect(this.key);
    this.io.post([{ op: 'abort', key: this.key }]);
    return answered;
  }

  /** The held chunks as one write of an ArrayBuffer of their own (posted without a copy). */
  private takeHeld(ack: boolean): SpoolIoRequest[] {
    const data = new Uint8Array(this.heldBytes);
    let offset = 0;
    for (const chunk of this.held) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
    this.held = [];
    this.heldBytes = 0;
    return data.length === 0 && !ack ? [] : [{ op: 'write', key: this.key, data, ack }];
  }
}

/** The buffers of the writes: moved to the thread, not copied (each is a buffer of its own). */
function transferList(requests: readonly SpoolIoRequest[]): ArrayBuffer[] {
  return requests.flatMap((request) => (request.op === 'write' && request.data.byteLength > 0 ? [request.data.buffer as ArrayBuffer] : []));
}
