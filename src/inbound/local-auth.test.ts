import type { SMTPServerSession } from 'smtp-server';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { AuthThrottle, WINDOW_MS } from './auth-throttle.js';
import { createAuthHook } from './local-auth.js';
import { SessionSignals } from './session-signals.js';

const session = (remoteAddress: string, secure: boolean) => ({ remoteAddress, secure }) as unknown as SMTPServerSession;

function authenticate(hook: ReturnType<typeof createAuthHook>, s: SMTPServerSession) {
  return new Promise<{ err: (Error & { responseCode?: number }) | null | undefined; user: unknown }>((resolve) =>
    hook({ method: 'PLAIN', username: 'sage', password: 'pw', validatePassword: () => false } as never, s, (err, response) =>
      resolve({ err, user: response?.user }),
    ),
  );
}

describe('onAuth', () => {
  const users = { authenticate: async (name: string, password: string) => (password === 'pw' ? { name, account: 'sage', rewriteSender: false } : undefined) };

  it('lets loopback AUTH in clear text, but a LAN client must use TLS first (538 5.7.11)', async () => {
    const hook = createAuthHook({ mode: 'optional', users, throttle: new AuthThrottle(new ManualClock()), logger: silentLogger(), sessions: new SessionSignals() });
    expect((await authenticate(hook, session('127.0.0.1', false))).user).toMatchObject({ kind: 'local' });
    expect((await authenticate(hook, session('::ffff:127.0.0.1', false))).err).toBeFalsy();
    const lan = await authenticate(hook, session('192.168.1.20', false));
    expect(lan.err?.responseCode).toBe(538);
    expect(lan.err?.message).toMatch(/^5\.7\.11 /);
    expect((await authenticate(hook, session('192.168.1.20', true))).user).toMatchObject({ kind: 'local' });
  });
});

describe('AuthThrottle', () => {
  it('forgets failures older than the window and after a success', async () => {
    const clock = new ManualClock();
    const throttle = new AuthThrottle(clock);
    for (let i = 0; i < 5; i += 1) throttle.recordFailure('10.0.0.1');
    expect(throttle.delayMs('10.0.0.1')).toBe(4000);
    expect(throttle.delayMs('10.0.0.2')).toBe(0);
    await clock.advance(WINDOW_MS);
    expect(throttle.failureCount('10.0.0.1')).toBe(0);
    for (let i = 0; i < 4; i += 1) throttle.recordFailure('10.0.0.1');
    throttle.recordSuccess('10.0.0.1');
    expect(throttle.delayMs('10.0.0.1')).toBe(0);
  });
});
