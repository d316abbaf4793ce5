/**
 * Gives back the memory of buffers that streamed through, while a large message is still
 * streaming. Every 64 KiB the socket reads and smtp-server's DATA parser copies is a buffer
 * outside V8's heap, freed only when a scavenge collects its small wrapper object; V8 forces
 * one only after 64 MiB of such external memory, so a 30 MiB message used to raise the relay's
 * RSS by ~36 MiB of garbage (docs/performance.md, "Memory"). A minor GC (scavenge) of a young
 * generation costs well under a millisecond and runs concurrently when asked with
 * execution: 'async'; asking for one every RELEASE_EVERY_BYTES keeps that garbage bounded.
 *
 * `gc` is V8's own function, exposed at run time through V8's --expose-gc flag (node:v8
 * setFlagsFromString, then read from a new context); without it this does nothing.
 */
import { setFlagsFromString } from 'node:v8';
import { Transform } from 'node:stream';
import { runInNewContext } from 'node:vm';

/** How much message data may stream between two minor collections. */
export const RELEASE_EVERY_BYTES = 1024 * 1024;

type MinorGc = (options: { type: 'minor'; execution: 'async' }) => unknown;

let minorGc: MinorGc | undefined | null = null;

function collector(): MinorGc | undefined {
  if (minorGc !== null) return minorGc;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    minorGc = typeof gc === 'function' ? (gc as MinorGc) : undefined;
  } catch {
    minorGc = undefined;
  }
  return minorGc;
}

/** Counts bytes of one stream; asks for a minor collection each RELEASE_EVERY_BYTES. */
export function transientBufferRelease(): (bytes: number) => void {
  let sinceLast = 0;
  return (bytes) => {
    sinceLast += bytes;
    if (sinceLast < RELEASE_EVERY_BYTES) return;
    sinceLast = 0;
    void collector()?.({ type: 'minor', execution: 'async' });
  };
}

/** A pass-through that asks for those collections as the bytes go by (e.g. a message read for delivery). */
export function releasingPassThrough(): Transform {
  const release = transientBufferRelease();
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      release(chunk.length);
      callback(null, chunk);
    },
  });
}
