import { describe, expect, it } from 'vitest';
import { queueRecordSchema } from '../core/queue-record.js';
import { isSafeQueueId, newQueueId } from './queue-id.js';

describe('newQueueId', () => {
  it('sorts by creation time as text, across the width change of base36 numbers', () => {
    const times = [0, 35, 36, Date.UTC(2026, 10, 22), Date.UTC(2026, 10, 22) + 1, Date.UTC(2100, 0, 1)];
    const ids = times.map((t) => newQueueId(t));
    expect([...ids].sort()).toEqual(ids);
  });

  it('is lower-case, file-name safe and accepted by the record schema', () => {
    const id = newQueueId(Date.UTC(2026, 10, 22));
    expect(id).toMatch(/^[0-9a-z]{19}$/);
    expect(queueRecordSchema.shape.id.safeParse(id).success).toBe(true);
  });

  it('gives distinct ids within one millisecond', () => {
    const now = Date.UTC(2026, 10, 22);
    const ids = new Set(Array.from({ length: 10_000 }, () => newQueueId(now)));
    expect(ids.size).toBe(10_000);
  });
});

describe('isSafeQueueId', () => {
  it('refuses anything that could leave the spool folder', () => {
    expect(isSafeQueueId('0mhx3kq2pabcdefghij')).toBe(true);
    for (const bad of ['', '../x', 'a/b', 'a\\b', 'a.json', '..']) expect(isSafeQueueId(bad)).toBe(false);
  });
});
