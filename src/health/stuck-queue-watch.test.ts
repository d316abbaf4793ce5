import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../test/support/manual-clock.js';
import { StuckQueueWatch, type WatchedRecord } from './stuck-queue-watch.js';

const MINUTE = 60_000;
const HOUR = 3600_000;

describe('StuckQueueWatch', () => {
  it('raises a message deferred for more than an hour once per hour of waiting, not at every check', async () => {
    const clock = new ManualClock();
    const receivedAt = new Date(clock.now()).toISOString();
    let records: WatchedRecord[] = [
      { id: 'Q1', account: 'sage', receivedAt, attempts: 3, lastReply: { text: '451 4.4.0 upstream down' } },
      // Never tried yet (e.g. a held account): not "deferred", the sign-in warning covers it.
      { id: 'Q2', account: 'sage', receivedAt, attempts: 0 },
    ];
    const raised: Array<{ level: string; text: string }> = [];
    const watch = new StuckQueueWatch({ clock, list: async () => records, raise: (level, text) => raised.push({ level, text }) });
    watch.start();

    await clock.advance(HOUR); // exactly an hour: not more than one
    await settle();
    expect(raised).toEqual([]);
    for (let minute = 0; minute < 59; minute += 1) {
      await clock.advance(MINUTE);
      await settle();
    }
    expect(raised).toHaveLength(1);
    expect(raised[0]).toEqual({
      level: 'error',
      text: 'sage: message Q1 has waited 1 hour after 3 failed attempts; last reply: 451 4.4.0 upstream down. Next step: smtp-oauth-relay queue list; smtp-oauth-relay doctor',
    });

    for (let minute = 0; minute < 60; minute += 1) {
      await clock.advance(MINUTE);
      await settle();
    }
    expect(raised.map((r) => r.text.split(' after')[0])).toEqual(['sage: message Q1 has waited 1 hour', 'sage: message Q1 has waited 2 hours']);

    // Delivered: gone from the queue, nothing more.
    records = [];
    await clock.advance(2 * HOUR);
    await settle();
    expect(raised).toHaveLength(2);
    watch.stop();
    expect(clock.pending).toBe(0);
  });
});
