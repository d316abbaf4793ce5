import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { QueueRecord } from '../core/queue-record.js';
import type { SignInState } from '../core/sign-in-state.js';
import { buildStatusReport, statusJsonSchema, statusReportSchema, type LiveStatus, type StatusAccount, type StatusReportInput } from './status-report.js';
import { formatStatusText } from './status-text.js';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const DAY = 24 * 3600_000;

const appOnly = (extra: { clientSecretExpiresOn?: string } = {}): StatusAccount =>
  ({ name: 'sage', mailbox: 'sage@contoso.example', auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', scope: 's', ...extra } }) as StatusAccount;
const delegated: StatusAccount = {
  name: 'scan',
  mailbox: 'scan@contoso.example',
  auth: { method: 'delegated', tenantId: 't', clientId: 'c', keepAliveHours: 24, scopes: [] },
} as unknown as StatusAccount;

const okState = (account: string, method: SignInState['method'], extra: Partial<SignInState> = {}): SignInState => ({ version: 1, account, method, status: 'ok', ...extra });

function live(accounts: LiveStatus['delivery']['accounts'] = [], extra: Partial<LiveStatus> = {}): LiveStatus {
  return { version: '0.1.0', pid: 42, startedAt: '2026-06-01T10:00:00.000Z', uptimeSeconds: 7200, smtp: { host: '127.0.0.1', port: 2525 }, delivery: { accounts }, warnings: [], ...extra };
}

function record(id: string, account: string, attempts: number, receivedAgoMs: number): QueueRecord {
  return {
    version: 1,
    id,
    kind: 'message',
    account,
    receivedAt: new Date(NOW - receivedAgoMs).toISOString(),
    client: { address: '127.0.0.1' },
    mailFrom: 'a@contoso.example',
    size: 10,
    recipients: [{ address: 'b@fabrikam.example', status: 'pending' }],
    attempts,
    nextAttemptAt: new Date(NOW).toISOString(),
    ...(attempts > 0 ? { lastReply: { code: 451, text: '451 4.4.0 try later', at: new Date(NOW).toISOString() } } : {}),
  };
}

function build(overrides: Partial<StatusReportInput> & { accounts?: StatusAccount[] } = {}) {
  const accounts = overrides.accounts ?? [appOnly()];
  const report = buildStatusReport({
    now: NOW,
    config: { accounts, alerts: { thresholdsDays: [14, 7, 1] } },
    daemon: live(),
    signInStates: accounts.map((a) => okState(a.name, a.auth.method)),
    queued: [],
    failed: [],
    ...overrides,
  });
  // Every report the builder makes must satisfy its own published schema.
  expect(statusReportSchema.safeParse(report).success).toBe(true);
  return report;
}

describe('buildStatusReport', () => {
  it('all well: OK, exit 0, daemon details and an empty queue', () => {
    const report = build();
    expect(report).toMatchObject({ schemaVersion: 1, status: 'ok', exitCode: 0, problems: [] });
    expect(report.summary).toBe('OK: relay 0.1.0 running, 1 of 1 account ok, queue empty');
    expect(report.daemon).toEqual({ running: true, version: '0.1.0', pid: 42, startedAt: '2026-06-01T10:00:00.000Z', uptimeSeconds: 7200, listening: { host: '127.0.0.1', port: 2525 } });
    expect(report.accounts[0]?.state).toBe('ok');
    expect(report.queue).toEqual({ waiting: 0, deferred: 0, held: 0, failed: 0 });
  });

  it('a client secret inside the largest threshold is a warning with days left and the next step', () => {
    const expires = new Date(NOW + 5 * DAY).toISOString().slice(0, 10);
    const report = build({ accounts: [appOnly({ clientSecretExpiresOn: expires })] });
    expect(report.status).toBe('warning');
    expect(report.exitCode).toBe(1);
    expect(report.accounts[0]).toMatchObject({ state: 'warning', clientSecretExpiresOn: expires });
    expect(report.accounts[0]?.clientSecretDaysLeft).toBeGreaterThanOrEqual(4);
    expect(report.problems[0]?.nextStep).toContain('secret set --account sage');
  });

  it('a client secret far from expiry is ok; an expired one is critical', () => {
    expect(build({ accounts: [appOnly({ clientSecretExpiresOn: new Date(NOW + 30 * DAY).toISOString().slice(0, 10) })] }).status).toBe('ok');
    const expired = build({ accounts: [appOnly({ clientSecretExpiresOn: new Date(NOW - 2 * DAY).toISOString().slice(0, 10) })] });
    expect(expired.accounts[0]?.state).toBe('critical');
    expect(expired.exitCode).toBe(2);
  });

  it('the refresh-token window: days left, warning inside 14 days, critical once passed', () => {
    const at = (ms: number) => build({ accounts: [delegated], signInStates: [okState('scan', 'delegated', { refreshTokenExpiresAt: new Date(NOW + ms).toISOString() })] });
    const fine = at(60 * DAY);
    expect(fine.accounts[0]).toMatchObject({ state: 'ok', refreshTokenDaysLeft: 60, keepAlive: { everyHours: 24 } });
    const soon = at(10 * DAY);
    expect(soon.accounts[0]).toMatchObject({ state: 'warning', refreshTokenDaysLeft: 10 });
    expect(soon.exitCode).toBe(1);
    const gone = at(-DAY);
    expect(gone.accounts[0]?.state).toBe('critical');
    expect(gone.exitCode).toBe(2);
  });

  it('the warning threshold is the largest configured one', () => {
    const report = buildStatusReport({
      now: NOW,
      config: { accounts: [delegated], alerts: { thresholdsDays: [3, 30] } },
      daemon: live(),
      signInStates: [okState('scan', 'delegated', { refreshTokenExpiresAt: new Date(NOW + 20 * DAY).toISOString() })],
      queued: [],
      failed: [],
    });
    expect(report.accounts[0]?.state).toBe('warning');
  });

  it('sign-in required, never signed in, or held by the daemon: CRITICAL with the login step', () => {
    const required = build({
      accounts: [delegated],
      signInStates: [{ version: 1, account: 'scan', method: 'delegated', status: 'sign-in-required', lastRefreshError: { at: 'x', error: 'invalid_grant', aadsts: 'AADSTS700082', message: 'The refresh token expired.' } }],
    });
    expect(required.accounts[0]?.state).toBe('sign-in-required');
    expect(required.exitCode).toBe(2);
    expect(required.problems[0]?.text).toContain('AADSTS700082');
    expect(required.problems[0]?.nextStep).toContain('login --account scan');

    const never = build({ accounts: [delegated], signInStates: [{ version: 1, account: 'scan', method: 'delegated', status: 'never-signed-in' }] });
    expect(never.accounts[0]?.state).toBe('sign-in-required');
    expect(never.status).toBe('critical');

    // An app-only account held on 5.7.139: an administrator must act, not a sign-in; the fix is the catalogue's.
    const held = build({
      daemon: live([{ account: 'sage', state: 'held-for-admin', condition: 'smtp-auth-disabled', reason: 'SMTP AUTH is disabled (5.7.139)', since: '2026-06-01T11:00:00.000Z', doing: 'held until an administrator acts: SMTP AUTH is disabled (5.7.139)', next: 'one message is tried at 2026-06-01T12:05:00.000Z to see whether it was fixed' }]),
      queued: [record('q1', 'sage', 0, 1000)],
    });
    expect(held.accounts[0]).toMatchObject({ state: 'admin-action-required', delivery: { state: 'held-for-admin', condition: 'smtp-auth-disabled' } });
    expect(held.problems[0]?.text).toBe('sage: held until an administrator acts: SMTP AUTH is disabled (5.7.139) (since 2026-06-01T11:00:00.000Z); one message is tried at 2026-06-01T12:05:00.000Z to see whether it was fixed.');
    expect(held.problems[0]?.nextStep).toContain('Set-CASMailbox -Identity sage@contoso.example -SmtpClientAuthenticationDisabled $false');
    expect(held.queue.held).toBe(1);
    expect(held.exitCode).toBe(2);
  });

  it('an identity-provider outage says so (not throttling), and becomes a WARNING after the configured minutes', () => {
    const waiting = (sinceAgoMs: number, state: 'waiting-for-identity-provider' | 'waiting-for-upstream') =>
      live([{ account: 'sage', state, condition: state === 'waiting-for-upstream' ? 'network-error' : 'identity-provider-unreachable', since: new Date(NOW - sinceAgoMs).toISOString(), doing: state === 'waiting-for-upstream' ? 'Microsoft 365 cannot be reached: x' : 'the identity provider (Microsoft Entra) cannot be reached, so no token: fetch failed', next: 'a token is asked for again at 2026-06-01T12:01:00.000Z' }]);
    const config = { accounts: [appOnly()], alerts: { thresholdsDays: [14] }, delivery: { upstreamOutageWarningMinutes: 3 } };
    const early = build({ config, daemon: waiting(60_000, 'waiting-for-identity-provider') });
    expect(early.status).toBe('ok');
    expect(formatStatusText(early)).toContain('the identity provider (Microsoft Entra) cannot be reached');
    expect(formatStatusText(early)).not.toMatch(/throttl/i);
    const late = build({ config, daemon: waiting(4 * 60_000, 'waiting-for-identity-provider') });
    expect(late.status).toBe('warning');
    expect(late.problems[0]?.text).toContain('identity provider (Microsoft Entra) cannot be reached');
    expect(late.problems[0]?.text).not.toMatch(/throttl/i);
    const outage = build({ config, daemon: waiting(4 * 60_000, 'waiting-for-upstream') });
    expect(outage.status).toBe('warning');
    expect(outage.problems[0]?.nextStep).toContain('Cannot reach');
  });

  it('a dead secret or sign-in shows no days left', () => {
    const secret = build({
      accounts: [appOnly({ clientSecretExpiresOn: '2026-12-01' })],
      daemon: live([{ account: 'sage', state: 'held-for-admin', condition: 'client-secret-invalid', reason: 'The client secret is wrong, expired or missing.' }]),
    });
    expect(secret.accounts[0]?.clientSecretDaysLeft).toBeUndefined();
    expect(formatStatusText(secret)).not.toMatch(/days? left/);
    const signIn = build({
      accounts: [delegated],
      signInStates: [{ version: 1, account: 'scan', method: 'delegated', status: 'sign-in-required', refreshTokenExpiresAt: new Date(NOW + 80 * DAY).toISOString(), lastRefreshError: { at: 'x', error: 'invalid_grant', aadsts: 'AADSTS700082', message: 'The refresh token expired.' } }],
    });
    expect(signIn.accounts[0]?.refreshTokenDaysLeft).toBeUndefined();
    const text = formatStatusText(signIn);
    expect(text).not.toMatch(/days? left|\.\./);
  });

  it('throttling is a warning', () => {
    const report = build({ daemon: live([{ account: 'sage', state: 'throttled', reason: 'rate' }]) });
    expect(report.accounts[0]?.state).toBe('warning');
    expect(report.exitCode).toBe(1);
  });

  it('counts waiting, deferred and failed, and the oldest age', () => {
    const report = build({ queued: [record('a', 'sage', 0, 60_000), record('b', 'sage', 2, 30 * 60_000)], failed: [record('f', 'sage', 3, DAY)] });
    expect(report.queue).toEqual({ waiting: 1, deferred: 1, held: 0, failed: 1, oldestAgeSeconds: 1800 });
    // Messages in failed/ are a warning; a deferral younger than an hour is not critical.
    expect(report.status).toBe('warning');
  });

  it('a deferred message older than an hour is CRITICAL; a waiting one of the same age is not', () => {
    expect(build({ queued: [record('a', 'sage', 1, 61 * 60_000)] }).exitCode).toBe(2);
    expect(build({ queued: [record('a', 'sage', 0, 61 * 60_000)] }).exitCode).toBe(0);
  });

  it('standing warnings of the daemon are warnings', () => {
    const report = build({ daemon: live([], { warnings: ['The key is kept in a file.'] }) });
    expect(report).toMatchObject({ status: 'warning', exitCode: 1, warnings: ['The key is kept in a file.'] });
  });

  it('daemon down but the disk readable: CRITICAL, still reports accounts and queue', () => {
    const report = build({ daemon: undefined, queued: [record('a', 'sage', 0, 1000)] });
    expect(report.status).toBe('critical');
    expect(report.daemon).toEqual({ running: false });
    expect(report.accounts).toHaveLength(1);
    expect(report.queue.waiting).toBe(1);
    expect(report.summary).toMatch(/^CRITICAL: The relay is not running/);
  });

  it('daemon down and nothing readable: UNKNOWN, exit 3, with the reason', () => {
    const report = build({ daemon: undefined, signInStates: undefined, queued: undefined, failed: undefined, diskError: 'the data folder /x cannot be read (ENOENT)' });
    expect(report.status).toBe('unknown');
    expect(report.exitCode).toBe(3);
    expect(report.summary).toContain('/x cannot be read');
  });

  it('gives lastError the meaning it is given, and keeps keep-alive and last delivery', () => {
    const report = build({
      accounts: [delegated],
      signInStates: [okState('scan', 'delegated', { refreshTokenExpiresAt: new Date(NOW + 80 * DAY).toISOString() })],
      daemon: live(
        [{ account: 'scan', state: 'active', lastDelivery: { at: 'd', id: 'q9' }, lastError: { at: 'e', text: '550 5.7.60 SendAsDenied' } }],
        { signIn: [{ account: 'scan', keepAlive: { phase: 'scheduled', nextRunAt: '2026-06-02T00:00:00.000Z' } }] },
      ),
      meaningOf: (text) => `meaning of ${text}`,
    });
    expect(report.accounts[0]).toMatchObject({
      keepAlive: { everyHours: 24, nextRunAt: '2026-06-02T00:00:00.000Z' },
      lastDelivery: { at: 'd', id: 'q9' },
      lastError: { at: 'e', text: '550 5.7.60 SendAsDenied', meaning: 'meaning of 550 5.7.60 SendAsDenied' },
    });
  });

  it('worst problem first, and the text starts with the level', () => {
    const report = build({ daemon: live([], { warnings: ['w'] }), failed: [record('f', 'sage', 1, 1000)], queued: [record('a', 'sage', 1, 2 * 3600_000)] });
    expect(report.problems[0]?.level).toBe('critical');
    const text = formatStatusText(report);
    expect(text.split('\n')[0]).toMatch(/^CRITICAL: /);
    expect(text).toContain('Queue: 0 waiting, 1 deferred, 0 held, 1 failed, oldest 2 h');
    expect(text).toContain('next step:');
  });
});

describe('status.schema.json', () => {
  it('is equal to the schema generated from the definition', () => {
    const committed = JSON.parse(readFileSync(new URL('../../status.schema.json', import.meta.url), 'utf8')) as unknown;
    // If this fails: npm run status-schema
    expect(committed).toEqual(statusJsonSchema());
  });
});
