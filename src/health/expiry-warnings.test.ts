import { describe, expect, it } from 'vitest';
import { configSchema } from '../core/config.js';
import type { SignInState } from '../core/sign-in-state.js';
import { crossedThreshold, dueWarnings, type DueWarningsInput } from './expiry-warnings.js';

const DAY = 24 * 3600_000;
const NOW = Date.UTC(2026, 10, 22, 9, 0, 0);
const THRESHOLDS = [14, 7, 1];

const config = configSchema.parse({
  accounts: [
    { name: 'sage', mailbox: 'sage@contoso.com', auth: { method: 'delegated', clientId: 'app' } },
    {
      name: 'printer',
      mailbox: 'printer@contoso.com',
      auth: { method: 'client-credentials', tenantId: 't', clientId: 'app2', clientSecretExpiresOn: '2026-12-06' },
    },
  ],
});

function delegated(expiresInDays: number, extra: Partial<SignInState> = {}): SignInState {
  const expiresAt = NOW + expiresInDays * DAY;
  return {
    version: 1,
    account: 'sage',
    method: 'delegated',
    status: 'ok',
    refreshTokenIssuedAt: new Date(expiresAt - 90 * DAY).toISOString(),
    refreshTokenExpiresAt: new Date(expiresAt).toISOString(),
    ...extra,
  };
}

function due(overrides: Partial<DueWarningsInput>) {
  return dueWarnings({
    now: NOW,
    accounts: config.accounts.slice(0, 1),
    states: [],
    thresholdsDays: THRESHOLDS,
    sent: new Set<string>(),
    ...overrides,
  });
}

describe('crossedThreshold', () => {
  it('picks the most urgent threshold crossed, 0 once expired, none before the first', () => {
    const ascending = [1, 7, 14];
    expect(crossedThreshold(20 * DAY, ascending)).toBeUndefined();
    expect(crossedThreshold(14 * DAY, ascending)).toBe(14);
    expect(crossedThreshold(5 * DAY, ascending)).toBe(7);
    expect(crossedThreshold(0.5 * DAY, ascending)).toBe(1);
    expect(crossedThreshold(0, ascending)).toBe(0);
    expect(crossedThreshold(-DAY, ascending)).toBe(0);
  });
});

describe('dueWarnings: refresh window', () => {
  it('raises nothing while the window is farther out than the largest threshold', () => {
    expect(due({ states: [delegated(20)] })).toEqual([]);
  });

  it('raises one warn at 14 days with the login command as the next step', () => {
    const warnings = due({ states: [delegated(14)] });
    expect(warnings).toHaveLength(1);
    const [warning] = warnings;
    expect(warning).toMatchObject({ account: 'sage', kind: 'refresh-token-expiry', threshold: 14, level: 'warn' });
    expect(warning?.summary).toBe('sage: sign-in expires in 14 days');
    expect(warning?.nextStep).toContain('smtp-oauth-relay login --account sage');
    expect(warning?.text).toContain('smtp-oauth-relay login --account sage');
  });

  it('raises only the most urgent threshold when several were crossed unseen', () => {
    const warnings = due({ states: [delegated(5)] });
    expect(warnings.map((w) => w.threshold)).toEqual([7]);
  });

  it('does not raise a warning whose key was sent, but raises it for a later window', () => {
    const [first] = due({ states: [delegated(14)] });
    expect(first).toBeDefined();
    expect(due({ states: [delegated(13)], sent: new Set([first!.key]) }).length).toBe(1); // other expiry: new key
    expect(due({ states: [delegated(14)], sent: new Set([first!.key]) })).toEqual([]);
  });

  it('raises an error once the predicted expiry has passed, quoting the failing keep-alive', () => {
    const failure = { at: new Date(NOW).toISOString(), error: 'network', message: 'login.microsoftonline.com unreachable' };
    const [warning] = due({ states: [delegated(-1, { lastRefreshError: failure })] });
    expect(warning).toMatchObject({ kind: 'refresh-token-expiry', threshold: 0, level: 'error' });
    expect(warning?.text).toContain('login.microsoftonline.com unreachable');
  });
});

describe('dueWarnings: sign-in required', () => {
  const refused = (at: number, issuedAt = NOW - 91 * DAY): SignInState => ({
    version: 1,
    account: 'sage',
    method: 'delegated',
    status: 'sign-in-required',
    refreshTokenIssuedAt: new Date(issuedAt).toISOString(),
    lastRefreshError: {
      at: new Date(at).toISOString(),
      error: 'invalid_grant',
      aadsts: 'AADSTS700082',
      message: 'The refresh token has expired due to inactivity.',
    },
  });

  it('raises an error at once with the AADSTS code and the login step, and no window warning', () => {
    const warnings = due({ states: [refused(NOW)] });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'sign-in-required', threshold: 0, level: 'error' });
    expect(warnings[0]?.text).toContain('AADSTS700082');
    expect(warnings[0]?.text).toContain('held');
    expect(warnings[0]?.nextStep).toContain('smtp-oauth-relay login --account sage');
  });

  it('keeps one key while retries fail, and a new one after a new sign-in', () => {
    const [first] = due({ states: [refused(NOW)] });
    const sent = new Set([first!.key]);
    expect(due({ states: [refused(NOW + 3600_000)], sent })).toEqual([]);
    expect(due({ states: [refused(NOW + 40 * DAY, NOW + 10 * DAY)], sent })).toHaveLength(1);
  });

  it('tells an app-only account to store a new client secret', () => {
    const state: SignInState = { version: 1, account: 'printer', method: 'client-credentials', status: 'sign-in-required' };
    const warnings = due({ accounts: config.accounts, states: [state], now: Date.UTC(2026, 9, 1) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.nextStep).toContain('smtp-oauth-relay secret set --account printer');
  });
});

describe('dueWarnings: client secret', () => {
  const printerOnly = config.accounts.slice(1);
  const at = (iso: string) => Date.parse(iso);

  it('warns at the thresholds before the configured date and errs once it passed', () => {
    expect(due({ accounts: printerOnly, now: at('2026-11-21T00:00:00Z') })).toEqual([]);
    const [fourteen] = due({ accounts: printerOnly, now: at('2026-11-22T00:00:00Z') });
    expect(fourteen).toMatchObject({ kind: 'client-secret-expiry', threshold: 14, level: 'warn' });
    expect(fourteen?.nextStep).toContain('smtp-oauth-relay secret set --account printer');
    expect(fourteen?.nextStep).toContain('Entra');
    const [expired] = due({ accounts: printerOnly, now: at('2026-12-06T00:00:01Z') });
    expect(expired).toMatchObject({ kind: 'client-secret-expiry', threshold: 0, level: 'error' });
    expect(expired?.summary).toBe('printer: client secret has expired');
  });

  it('keys the warning by the configured date, so a new secret date warns again', () => {
    const [old] = due({ accounts: printerOnly, now: at('2026-11-30T00:00:00Z') });
    const renewed = printerOnly.map((account) => ({
      ...account,
      auth: { ...account.auth, clientSecretExpiresOn: '2026-12-08' },
    }));
    const [again] = due({ accounts: renewed, now: at('2026-12-01T00:00:00Z'), sent: new Set([old!.key]) });
    expect(again?.threshold).toBe(7);
    expect(again?.key).not.toBe(old?.key);
  });
});
