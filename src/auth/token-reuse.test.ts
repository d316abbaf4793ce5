import { describe, expect, it } from 'vitest';
import type { AccessToken } from '../core/token.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { REFRESH_BEFORE_EXPIRY_MS, TokenReuse } from './token-reuse.js';

/** An identity provider stand-in that answers when the test says so. */
class Answers {
  readonly calls: boolean[] = [];
  private waiting: ((token: AccessToken) => void)[] = [];

  constructor(private readonly clock: ManualClock) {}

  acquire = (force: boolean): Promise<AccessToken> => {
    this.calls.push(force);
    return new Promise((resolve) => this.waiting.push(resolve));
  };

  answerAll(): void {
    const n = this.calls.length;
    for (const resolve of this.waiting.splice(0)) resolve({ token: `t${n}`, expiresAt: this.clock.now() + 3600_000 });
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
}

describe('TokenReuse', () => {
  it('reuses a token until 5 minutes before it expires', async () => {
    const clock = new ManualClock();
    const answers = new Answers(clock);
    const reuse = new TokenReuse({ clock, acquire: answers.acquire, everyRequestIsFresh: false });
    const first = reuse.get();
    answers.answerAll();
    await first;
    await reuse.get();
    expect(answers.calls).toEqual([false]);
    await clock.advance(3600_000 - REFRESH_BEFORE_EXPIRY_MS);
    const again = reuse.get();
    answers.answerAll();
    await again;
    expect(answers.calls).toEqual([false, false]);
  });

  it('shares one request among concurrent callers', async () => {
    const clock = new ManualClock();
    const answers = new Answers(clock);
    const reuse = new TokenReuse({ clock, acquire: answers.acquire, everyRequestIsFresh: false });
    const all = Promise.all([reuse.get(), reuse.get(true), reuse.get(true), reuse.get()]);
    await flush();
    answers.answerAll();
    await flush();
    answers.answerAll();
    await all;
    // The forced callers could not trust an unforced answer (it may come from a cache): one forced request after it.
    expect(answers.calls).toEqual([false, true]);
  });

  it('lets a forced call join any request when every request is fresh', async () => {
    const clock = new ManualClock();
    const answers = new Answers(clock);
    const reuse = new TokenReuse({ clock, acquire: answers.acquire, everyRequestIsFresh: true });
    const all = Promise.all([reuse.get(), reuse.get(true)]);
    await flush();
    answers.answerAll();
    await all;
    expect(answers.calls).toEqual([false]);
  });
});
