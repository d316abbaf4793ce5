import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../../test/support/manual-clock.js';
import { configSchema, type Config } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import type { SignInState } from '../core/sign-in-state.js';
import { AlertLedger } from './alert-ledger.js';
import { AlertMonitor, type OutgoingNotice } from './alert-monitor.js';

const DAY = 24 * 3600_000;
const HOUR = 3600_000;
const WARN = 40;
const ERROR = 50;

interface LogLine {
  level: number;
  msg: string;
  account?: string;
  kind?: string;
  nextStep?: string;
  thresholdDays?: number;
}

function makeConfig(notify: string[], secretExpiresOn?: string): Config {
  return configSchema.parse({
    accounts: [
      { name: 'sage', mailbox: 'sage@contoso.com', auth: { method: 'delegated', clientId: 'app' } },
      {
        name: 'printer',
        mailbox: 'printer@contoso.com',
        auth: { method: 'client-credentials', tenantId: 't', clientId: 'app2', clientSecretExpiresOn: secretExpiresOn },
      },
    ],
    alerts: { notify },
  });
}

function signedIn(account: string, method: SignInState['method'], issuedAt: number): SignInState {
  return {
    version: 1,
    account,
    method,
    status: 'ok',
    ...(method === 'delegated'
      ? {
          refreshTokenIssuedAt: new Date(issuedAt).toISOString(),
          refreshTokenExpiresAt: new Date(issuedAt + 90 * DAY).toISOString(),
        }
      : { lastRefreshAt: new Date(issuedAt).toISOString() }),
  };
}

/** The monitor's world: a real logger writing JSON lines we read back, a real ledger in a temp folder. */
class Harness {
  readonly clock = new ManualClock();
  readonly logLines: LogLine[] = [];
  readonly rawLog: string[] = [];
  readonly notices: OutgoingNotice[] = [];
  /** What the onWarning hook (the OS log in the daemon) was told. */
  readonly osWarnings: Array<{ level: string; text: string }> = [];
  states: SignInState[] = [];
  failSending = false;
  private monitor: AlertMonitor | undefined;

  constructor(
    readonly dataDir: string,
    readonly config: Config,
  ) {}

  readonly logger = createLogger({
    level: 'info',
    pretty: false,
    stdout: new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          this.rawLog.push(line);
          this.logLines.push(JSON.parse(line) as LogLine);
        }
        done();
      },
    }),
  });

  /** A new monitor (as after a daemon restart) over the ledger on disk. */
  async startMonitor(): Promise<AlertMonitor> {
    await this.monitor?.stop();
    const ledger = await AlertLedger.open(this.dataDir, this.clock);
    this.monitor = new AlertMonitor({
      config: this.config,
      clock: this.clock,
      logger: this.logger,
      ledger,
      hostname: 'relay.test',
      onWarning: (level, text) => this.osWarnings.push({ level, text }),
      states: async () => this.states,
      sendNotice: async (notice) => {
        if (this.failSending) throw new Error('spool full');
        this.notices.push(notice);
        return `Q${this.notices.length}`;
      },
    });
    this.monitor.start();
    await this.advance(0);
    return this.monitor;
  }

  /**
   * Moves time an hour at a time and lets each check finish its file I/O (the ledger's fsync)
   * before the next: the real time that takes must not shift the schedule.
   */
  async advance(ms: number): Promise<void> {
    let left = ms;
    do {
      const step = Math.min(HOUR, left);
      await this.clock.advance(step);
      await this.monitor?.idle();
      await settle();
      left -= step;
    } while (left > 0);
  }

  async stop(): Promise<void> {
    await this.monitor?.stop();
  }

  /** Warning lines: the ones that carry a next step. */
  warnings(): LogLine[] {
    return this.logLines.filter((line) => line.nextStep !== undefined);
  }
}

describe('AlertMonitor', () => {
  let dataDir: string;
  let harness: Harness | undefined;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'alert-monitor-'));
  });
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('warns once per threshold of a refresh window, across restarts, and again for a later window', async () => {
    const h = (harness = new Harness(dataDir, makeConfig(['admin@contoso.com'])));
    const start = h.clock.now();
    // The refresh window ends 20 days from now: the keep-alive has not moved it for 70 days.
    h.states = [signedIn('sage', 'delegated', start - 70 * DAY), signedIn('printer', 'client-credentials', start)];
    await h.startMonitor();
    expect(h.warnings()).toEqual([]);
    expect(h.notices).toEqual([]);

    await h.advance(6 * DAY); // 14 days left
    expect(h.warnings()).toHaveLength(1);
    expect(h.warnings()[0]).toMatchObject({ level: WARN, account: 'sage', kind: 'refresh-token-expiry', thresholdDays: 14 });
    expect(h.warnings()[0]?.nextStep).toContain('smtp-oauth-relay login --account sage');
    expect(h.notices).toHaveLength(1);
    expect(h.notices[0]).toMatchObject({ from: 'sage', mailFrom: 'sage@contoso.com', to: ['admin@contoso.com'] });
    expect(h.notices[0]?.raw.toString()).toContain('Subject: [smtp-oauth-relay] sage: sign-in expires in 14 days');

    await h.advance(2 * DAY); // still past 14, not yet 7: nothing more, hour after hour
    expect(h.warnings()).toHaveLength(1);
    await h.startMonitor(); // a restart reads the ledger
    await h.advance(HOUR);
    expect(h.warnings()).toHaveLength(1);
    expect(h.notices).toHaveLength(1);

    await h.advance(5 * DAY); // 7 days left
    expect(h.warnings().map((line) => line.thresholdDays)).toEqual([14, 7]);
    await h.advance(6 * DAY); // 1 day left
    expect(h.warnings().map((line) => line.thresholdDays)).toEqual([14, 7, 1]);
    expect(h.notices.map((notice) => notice.raw.toString().match(/Subject: (.*)/)?.[1])).toEqual([
      '[smtp-oauth-relay] sage: sign-in expires in 14 days',
      '[smtp-oauth-relay] sage: sign-in expires in 7 days',
      '[smtp-oauth-relay] sage: sign-in expires in 24 hours',
    ]);

    // A new login: the window is 90 days out again.
    h.states = [signedIn('sage', 'delegated', h.clock.now()), signedIn('printer', 'client-credentials', h.clock.now())];
    await h.advance(75 * DAY); // 15 days left
    expect(h.warnings()).toHaveLength(3);
    await h.advance(DAY); // 14 days left of the new window
    expect(h.warnings()).toHaveLength(4);
    expect(h.warnings()[3]).toMatchObject({ level: WARN, thresholdDays: 14 });
    expect(h.notices).toHaveLength(4);
  });

  it('tells the onWarning hook (the OS log) of each warning once, with its level, headline first', async () => {
    const h = (harness = new Harness(dataDir, makeConfig([])));
    const start = h.clock.now();
    h.states = [signedIn('sage', 'delegated', start - 70 * DAY), signedIn('printer', 'client-credentials', start)];
    await h.startMonitor();
    expect(h.osWarnings).toEqual([]);

    await h.advance(6 * DAY); // 14 days left: one warning, then quiet hour after hour
    await h.advance(2 * DAY);
    expect(h.osWarnings).toHaveLength(1);
    expect(h.osWarnings[0]?.level).toBe('warn');
    expect(h.osWarnings[0]?.text).toMatch(/^sage: sign-in expires in 14 days\. /);
    expect(h.osWarnings[0]?.text).toContain('`smtp-oauth-relay login --account sage`');
    expect(h.warnings()).toHaveLength(1);

    await h.advance(5 * DAY); // 7 days left
    expect(h.osWarnings.map((warning) => warning.text.split('.')[0])).toEqual(['sage: sign-in expires in 14 days', 'sage: sign-in expires in 7 days']);
  });

  it('raises "sign-in required" at once, through another account whose sign-in works', async () => {
    const h = (harness = new Harness(dataDir, makeConfig(['admin@contoso.com', 'it@contoso.com'])));
    const now = h.clock.now();
    h.states = [signedIn('sage', 'delegated', now - DAY), signedIn('printer', 'client-credentials', now)];
    const monitor = await h.startMonitor();
    expect(h.warnings()).toEqual([]);

    // The keep-alive was refused: the daemon records the state and asks for a check at once.
    const refused: SignInState = {
      ...signedIn('sage', 'delegated', now - DAY),
      status: 'sign-in-required',
      lastRefreshError: {
        at: new Date(now).toISOString(),
        error: 'invalid_grant',
        aadsts: 'AADSTS50173',
        message: 'The grant was revoked; sign in again.',
      },
    };
    h.states = [refused, h.states[1]!];
    const result = await monitor.checkNow();
    expect(result.raised.map((w) => w.kind)).toEqual(['sign-in-required']);
    expect(h.warnings()).toHaveLength(1);
    expect(h.warnings()[0]).toMatchObject({ level: ERROR, account: 'sage', kind: 'sign-in-required' });
    expect(h.warnings()[0]?.msg).toContain('AADSTS50173');
    expect(h.notices).toHaveLength(1);
    expect(h.notices[0]).toMatchObject({ from: 'printer', mailFrom: 'printer@contoso.com', to: ['admin@contoso.com', 'it@contoso.com'] });
    const raw = h.notices[0]!.raw.toString();
    expect(raw).toContain('From: "smtp-oauth-relay" <printer@contoso.com>');
    expect(raw).toContain('To: admin@contoso.com, it@contoso.com');
    expect(raw).toContain('Auto-Submitted: auto-generated');
    expect(result.notices.get(result.raised[0]!.key)).toBe('Q1');

    // Held retries fail again later: still one warning.
    h.states = [{ ...refused, lastRefreshError: { ...refused.lastRefreshError!, at: new Date(now + HOUR).toISOString() } }, h.states[1]!];
    await h.advance(3 * HOUR);
    await monitor.checkNow();
    expect(h.warnings()).toHaveLength(1);
    expect(h.notices).toHaveLength(1);
  });

  it('only logs, and says so, when no account can send the notice', async () => {
    const h = (harness = new Harness(dataDir, makeConfig(['admin@contoso.com'])));
    const never = (account: string, method: SignInState['method']): SignInState => ({
      version: 1,
      account,
      method,
      status: method === 'delegated' ? 'never-signed-in' : 'sign-in-required',
    });
    h.states = [never('sage', 'delegated'), never('printer', 'client-credentials')];
    await h.startMonitor();
    expect(h.warnings().map((line) => [line.account, line.level])).toEqual([
      ['sage', WARN],
      ['printer', ERROR],
    ]);
    expect(h.notices).toEqual([]);
    expect(h.logLines.filter((line) => /no account can sign in/.test(line.msg))).toHaveLength(2);
    // Recorded all the same: the next hour does not repeat them.
    await h.advance(2 * HOUR);
    expect(h.warnings()).toHaveLength(2);
  });

  it('warns before a client secret expires, and errs once it has', async () => {
    const h = (harness = new Harness(dataDir, makeConfig(['admin@contoso.com'], '2026-12-10')));
    const now = h.clock.now(); // 2026-11-22 09:00 UTC: 17.6 days before the secret's date
    h.states = [signedIn('sage', 'delegated', now), signedIn('printer', 'client-credentials', now)];
    await h.startMonitor();
    expect(h.warnings()).toEqual([]);
    await h.advance(4 * DAY);
    expect(h.warnings()).toHaveLength(1);
    expect(h.warnings()[0]).toMatchObject({ level: WARN, account: 'printer', kind: 'client-secret-expiry', thresholdDays: 14 });
    expect(h.warnings()[0]?.nextStep).toContain('smtp-oauth-relay secret set --account printer');
    expect(h.notices[0]).toMatchObject({ from: 'printer' });
    await h.advance(14 * DAY); // past the date
    expect(h.warnings().map((line) => [line.thresholdDays, line.level])).toEqual([
      [14, WARN],
      [7, WARN],
      [1, WARN],
      [0, ERROR],
    ]);
    expect(h.notices).toHaveLength(4);
  });

  it('does not record a warning whose notice could not be queued, and retries it at the next check', async () => {
    const h = (harness = new Harness(dataDir, makeConfig(['admin@contoso.com'])));
    const now = h.clock.now();
    h.states = [signedIn('sage', 'delegated', now - 80 * DAY), signedIn('printer', 'client-credentials', now)];
    h.failSending = true;
    await h.startMonitor();
    expect(h.warnings()).toHaveLength(1);
    expect(h.logLines.some((line) => line.level === ERROR && /could not be queued/.test(line.msg))).toBe(true);
    h.failSending = false;
    await h.advance(HOUR);
    expect(h.notices).toHaveLength(1);
    await h.advance(HOUR);
    expect(h.notices).toHaveLength(1);
  });

  it('logs nothing of a state but its account, its dates and the failure text', async () => {
    const h = (harness = new Harness(dataDir, makeConfig(['admin@contoso.com'])));
    const now = h.clock.now();
    // A state carrying stray token-like fields (it never should): the monitor must not echo them.
    const leaky = {
      ...signedIn('sage', 'delegated', now - 85 * DAY),
      accessToken: 'eyJ0eXAiOiJKV1QiLCJhbGciOi.secret-access-token',
      refreshToken: '0.AAAA-secret-refresh-token',
    } as SignInState;
    h.states = [leaky, signedIn('printer', 'client-credentials', now)];
    await h.startMonitor();
    expect(h.warnings()).toHaveLength(1);
    const everything = h.rawLog.join('\n') + h.notices.map((n) => n.raw.toString()).join('\n');
    expect(everything).not.toContain('secret-access-token');
    expect(everything).not.toContain('secret-refresh-token');
  });

  it('stops its hourly schedule', async () => {
    const h = (harness = new Harness(dataDir, makeConfig([])));
    h.states = [signedIn('sage', 'delegated', h.clock.now()), signedIn('printer', 'client-credentials', h.clock.now())];
    await h.startMonitor();
    expect(h.clock.pending).toBe(1);
    await h.stop();
    expect(h.clock.pending).toBe(0);
  });
});
