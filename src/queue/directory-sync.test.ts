import { afterEach, describe, expect, it, vi } from 'vitest';
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
describe('DirectorySync.requestWithin', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shares the next fsync somebody else starts, and never one that was running when it asked', async () => {
    const { calls, sync } = manualSync();
    const dirSync = new DirectorySync('/queue', sync);
    const settled: string[] = [];
    void dirSync.request().then(() => settled.push('commit 1'));
    const removal = dirSync.requestWithin(60_000).then(() => settled.push('removal'));
    calls[0]?.end();
    await tick();
    // The fsync under way when the removal asked does not count for it.
    expect(settled).toEqual(['commit 1']);
    expect(calls).toHaveLength(1);
    void dirSync.request().then(() => settled.push('commit 2'));
    expect(calls).toHaveLength(2);
    calls[1]?.end();
    await removal;
    expect(settled.sort()).toEqual(['commit 1', 'commit 2', 'removal']);
    expect(calls).toHaveLength(2);
  });

  it('starts an fsync itself once the delay is over when nobody else does, one for all who waited', async () => {
    vi.useFakeTimers();
    const { calls, sync } = manualSync();
    const dirSync = new DirectorySync('/queue', sync);
    const first = dirSync.requestWithin(20);
    const second = dirSync.requestWithin(20);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(20);
    expect(calls).toHaveLength(1);
    calls[0]?.end();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
  });

  it('fails its callers when the fsync it shared fails', async () => {
    const { calls, sync } = manualSync();
    const dirSync = new DirectorySync('/queue', sync);
    const removal = dirSync.requestWithin(60_000);
    const commit = dirSync.request();
    calls[0]?.end(new Error('EIO'));
    await expect(commit).rejects.toThrow('EIO');
    await expect(removal).rejects.toThrow('EIO');
  });
});
