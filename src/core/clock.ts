/**
 * Time as a dependency, so that retry schedules, rate limits and token expiry can be tested
 * with a controllable clock instead of by waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` after `ms` milliseconds; returns a function that cancels it. */
  setTimer(ms: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, callback) {
    const timer = setTimeout(callback, Math.max(0, ms));
    // A pending retry must not keep a stopping process alive.
    timer.unref();
    return () => clearTimeout(timer);
  },
};
