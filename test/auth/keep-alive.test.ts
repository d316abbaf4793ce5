/**
 * The keep-alive on a ManualClock, driving the real DelegatedTokenProvider and MSAL against the
 * mock identity provider, whose refresh-token bookkeeping (90 days of inactivity, AADSTS700082)
 * runs on the same clock: time moves only when the test says so.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KeepAlive } from '../../src/auth/index.js';
import { silentLogger } from '../../src/core/logger.js';
import { startMockTenant, type MockTenant } from '../mock-tenant/index.js';
import { ManualClock } from '../support/manual-clock.js';
import { browserStandIn, delegatedProvider, type ProviderHandle } from './delegated-fixture.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const clock = new ManualClock(Date.now());
let tenant: MockTenant;
let dataDir: string;
let handle: ProviderHandle;
const keepAlives: KeepAlive[] = [];

beforeAll(async () => {
  tenant = await startMockTenant({ identityClock: clock });
});

afterAll(async () => {
  await tenant.close();
});

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keep-alive-'));
  handle = delegatedProvider(tenant, dataDir, clock);
  await handle.provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });
});

afterEach(async () => {
  for (const keepAlive of keepAlives.splice(0)) {
    keepAlive.stop();
    await keepAlive.idle();
  }
  handle.provider.close();
  await tenant.identity.up();
  tenant.identity.clearRefreshFailures();
  tenant.identity.revokeRefreshTokens();
  await rm(dataDir, { recursive: true, force: true });
});

function keepAlive(intervalHours = 24): KeepAlive {
  const created = new KeepAlive({ target: handle.provider, clock, logger: silentLogger(), intervalHours });
  keepAlives.push(created);
  return created;
}

/** Moves the clock and waits for the refresh that a timer started (real HTTPS, not time). */
async function advance(ms: number, keeper: KeepAlive): Promise<void> {
  await clock.advance(ms);
  await keeper.idle();
}

describe('KeepAlive', () => {
  it('redeems the refresh token every 24 hours, sliding the window', async () => {
    const keeper = keepAlive();
    keeper.start();
    expect(keeper.nextRunAt).toBe(clock.now() + DAY);
    const redemptions = tenant.identity.refreshRedemptions;

    await advance(DAY - MINUTE, keeper);
    expect(tenant.identity.refreshRedemptions).toBe(redemptions);
    await advance(MINUTE, keeper);
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 1);
    for (let day = 0; day < 2; day += 1) await advance(DAY, keeper);
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 3);
    expect(handle.provider.state().refreshTokenIssuedAt).toBe(new Date(clock.now()).toISOString());
    expect(handle.provider.state().refreshTokenExpiresAt).toBe(new Date(clock.now() + 90 * DAY).toISOString());
  });

  it('keeps a sign-in alive past 90 days (without it, the provider refuses with AADSTS700082)', async () => {
    const keeper = keepAlive();
    keeper.start();
    for (let day = 0; day < 92; day += 1) await advance(DAY, keeper);
    expect(handle.provider.state()).toMatchObject({ status: 'ok' });
    expect(handle.signInRequired).toHaveLength(0);

    keeper.stop();
    await clock.advance(91 * DAY);
    await expect(handle.provider.getToken({ forceRefresh: true })).rejects.toMatchObject({ aadstsCode: 'AADSTS700082' });
    expect(handle.signInRequired).toHaveLength(1);
  });

  it('refreshes at once on start when the last refresh is older than the interval', async () => {
    await clock.advance(30 * HOUR);
    const redemptions = tenant.identity.refreshRedemptions;
    const keeper = keepAlive();
    keeper.start();
    await keeper.idle();
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 1);
    expect(keeper.nextRunAt).toBe(clock.now() + DAY);
  });

  it('backs off on network errors (1, 5, 15 min ...), keeps the tokens, and returns to the daily schedule', async () => {
    const keeper = keepAlive();
    keeper.start();
    await tenant.identity.down();
    await advance(DAY, keeper);
    expect(keeper.phase).toBe('scheduled');
    expect(keeper.nextRunAt).toBe(clock.now() + MINUTE);
    await advance(MINUTE, keeper);
    expect(keeper.nextRunAt).toBe(clock.now() + 5 * MINUTE);
    await advance(5 * MINUTE, keeper);
    expect(keeper.nextRunAt).toBe(clock.now() + 15 * MINUTE);
    expect(handle.provider.state()).toMatchObject({ status: 'ok', lastRefreshError: { error: 'network' } });

    await tenant.identity.up();
    const redemptions = tenant.identity.refreshRedemptions;
    await advance(15 * MINUTE, keeper);
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 1);
    expect(keeper.nextRunAt).toBe(clock.now() + DAY);
    expect(handle.provider.state().lastRefreshError).toBeUndefined();
    expect(handle.signInRequired).toHaveLength(0);
  });

  it('stops on sign-in-required, and resume() after a new login restarts the schedule', async () => {
    const keeper = keepAlive();
    keeper.start();
    tenant.identity.failRefresh({ error: 'invalid_grant', error_description: 'AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.' });
    await advance(DAY, keeper);
    expect(keeper.phase).toBe('waiting-for-sign-in');
    expect(keeper.nextRunAt).toBeUndefined();
    expect(handle.signInRequired).toHaveLength(1);

    const requests = tenant.identity.tokenRequests;
    await advance(3 * DAY, keeper);
    expect(tenant.identity.tokenRequests).toBe(requests);

    await handle.provider.login({ mode: 'browser', onPrompt: browserStandIn(tenant) });
    keeper.resume();
    expect(keeper.phase).toBe('scheduled');
    expect(keeper.nextRunAt).toBe(clock.now() + DAY);
    const redemptions = tenant.identity.refreshRedemptions;
    await advance(DAY, keeper);
    expect(tenant.identity.refreshRedemptions).toBe(redemptions + 1);
    expect(handle.provider.state().status).toBe('ok');
  });

  it('waits for a sign-in when started on an account that needs one', async () => {
    await handle.provider.logout();
    const keeper = keepAlive();
    keeper.start();
    expect(keeper.phase).toBe('waiting-for-sign-in');
    expect(keeper.nextRunAt).toBeUndefined();
    const requests = tenant.identity.tokenRequests;
    await advance(2 * DAY, keeper);
    expect(tenant.identity.tokenRequests).toBe(requests);
  });
});
