import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { RetrySchedule } from './retry-schedule.js';

describe('RetrySchedule', () => {
  const schedule = new RetrySchedule({ retryDelaysSeconds: [60, 300, 900], maxQueueLifetimeHours: 120 });

  it('waits per the list after each failed attempt, the last delay repeating', async () => {
    const clock = new ManualClock();
    const now = clock.now();
    expect(schedule.nextAttempt({ attempts: 1 }, now) - now).toBe(60_000);
    expect(schedule.nextAttempt({ attempts: 2 }, now) - now).toBe(300_000);
    expect(schedule.nextAttempt({ attempts: 3 }, now) - now).toBe(900_000);
    expect(schedule.nextAttempt({ attempts: 9 }, now) - now).toBe(900_000);
  });

  it('expires a message five days after it was received', async () => {
    const clock = new ManualClock();
    const record = { receivedAt: new Date(clock.now()).toISOString() };
    await clock.advance(120 * 3600_000 - 1);
    expect(schedule.isExpired(record, clock.now())).toBe(false);
    await clock.advance(1);
    expect(schedule.isExpired(record, clock.now())).toBe(true);
  });

  it('measures the lifetime from lifetimeStartsAt when an operator retried a failed message', () => {
    const receivedAt = Date.UTC(2026, 10, 1);
    const retriedAt = Date.UTC(2026, 10, 20);
    const record = { receivedAt: new Date(receivedAt).toISOString(), lifetimeStartsAt: new Date(retriedAt).toISOString() };
    expect(schedule.isExpired(record, retriedAt + 1000)).toBe(false);
    expect(schedule.expiresAt(record)).toBe(retriedAt + 120 * 3600_000);
  });
});
