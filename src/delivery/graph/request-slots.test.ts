import { describe, expect, it } from 'vitest';
import { RequestSlots } from './request-slots.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('RequestSlots', () => {
  it('runs at most the limit at once, in order, and hands a freed slot to the next waiter, not to a newcomer', async () => {
    const slots = new RequestSlots(4);
    const started: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string) =>
      slots.run(async () => {
        started.push(name);
        await new Promise<void>((resolve) => gates.set(name, resolve));
      });
    const all = ['a', 'b', 'c', 'd', 'e', 'f'].map(task);
    await tick();
    expect(started).toEqual(['a', 'b', 'c', 'd']);

    gates.get('a')!();
    const late = task('late');
    await tick();
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);

    for (const name of ['b', 'c', 'd', 'e', 'f']) {
      gates.get(name)!();
      await tick();
    }
    gates.get('late')!();
    await Promise.all([...all, late]);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'late']);
  });
});
