/**
 * Queue ids: short, URL- and file-name-safe, sortable by creation time, unique across restarts.
 *
 * Base36 milliseconds (fixed width, so that text order is time order) then random base36.
 * Lower case only: Windows and macOS file systems are case-insensitive, so "aB" and "Ab" would
 * be the same file there.
 */
import { randomInt } from 'node:crypto';

/** Milliseconds since 1970 in base36 fit in 9 characters until the year 5188. */
const TIME_WIDTH = 9;
/** 36^10 (about 3.7e15) random values per millisecond: a collision is not a practical concern. */
const RANDOM_LENGTH = 10;
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** The characters the queue record schema allows in an id; anything else could escape the spool folder. */
const SAFE_ID = /^[A-Za-z0-9_-]+$/;

export function newQueueId(now: number): string {
  let random = '';
  for (let i = 0; i < RANDOM_LENGTH; i += 1) random += ALPHABET[randomInt(ALPHABET.length)];
  return Math.trunc(now).toString(36).padStart(TIME_WIDTH, '0') + random;
}

/** True when `id` can be used as a file name in the spool (guards ids typed on the command line). */
export function isSafeQueueId(id: string): boolean {
  return SAFE_ID.test(id);
}
