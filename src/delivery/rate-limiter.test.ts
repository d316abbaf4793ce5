import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { SlidingWindowRateLimiter } from './rate-limiter.js';

describe('SlidingWindowRateLimiter', () => {
  it('lets 30 through in 60 s and makes the 31st wait until the first leaves the window', async () => {
    const clock = new ManualClock();
    const limiter = new SlidingWindowRateLimiter(30, 60_000);
    const first = clock.now();
    for (let i = 0; i < 30; i += 1) {
      expect(limiter.msUntilNextSlot(clock.now())).toBe(0);
      limiter.record(clock.now());
      await clock.advance(1000);
    }
    // 30 s have passed; the first send leaves the window at first + 60 s.
    expect(limiter.msUntilNextSlot(clock.now())).toBe(first + 60_000 - clock.now());
    await clock.advance(first + 60_000 - clock.now() - 1);
    expect(limiter.msUntilNextSlot(clock.now())).toBe(1);
    await clock.advance(1);
    expect(limiter.msUntilNextSlot(clock.now())).toBe(0);
    limiter.record(clock.now());
    // The second send (at first + 1 s) is next to leave.
    expect(limiter.msUntilNextSlot(clock.now())).toBe(1000);
  });

  it('never allows more than the limit in any window across a minute boundary', () => {
    const limiter = new SlidingWindowRateLimiter(2, 60_000);
    limiter.record(59_000);
    limiter.record(59_500);
    expect(limiter.msUntilNextSlot(61_000)).toBe(58_000);
  });
});
