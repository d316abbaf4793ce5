import { describe, expect, it } from 'vitest';
import { DirectorySync } from './directory-sync.js';

/** An fsync the test ends by hand, recording when each one started. */
function manualSync() {
  const calls: Array<{ end: (error?: Error) => void }> = [];
  const sync = (): Promise<void> =>
    new Promise<void>((resolve, reject) => calls.push({ end: (error) => (error === undefined ? resolve() : reject(error)) }));
  return { calls, sync };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DirectorySync', () => {
  it('callers during an fsync share the next one, which starts only after the current one ends', async () => {
    const { calls, sync } = manualSync();
    const dirSync = new DirectorySync('/queue', sync);
    const settled: string[] = [];
    const first = dirSync.request().then(() => settled.push('first'));
    const second = dirSync.request().then(() => settled.push('second'));
    const third = dirSync.request().then(() => settled.push('third'));
    expect(calls).toHaveLength(1);
    calls[0]?.end();
    await first;
    await tick();
    // The second and third asked after the first fsync began: they need one of their own.
    expect(settled).toEqual(['first']);
    expect(calls).toHaveLength(2);
    calls[1]?.end();
    await Promise.all([second, third]);
    expect(settled).toEqual(['first', 'second', 'third']);
    expect(calls).toHaveLength(2);
  });

  it('a failed fsync fails its callers, and the next caller gets a new one', async () => {
    const { calls, sync } = manualSync();
    const dirSync = new DirectorySync('/queue', sync);
    const failing = dirSync.request();
    calls[0]?.end(new Error('EIO'));
    await expect(failing).rejects.toThrow('EIO');
    const after = dirSync.request();
    expect(calls).toHaveLength(2);
    calls[1]?.end();
    await expect(after).resolves.toBeUndefined();
  });
});
