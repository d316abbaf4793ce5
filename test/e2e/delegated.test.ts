/**
 * Delegated sign-in through the real processes: `smtp-oauth-relay login` as an administrator
 * runs it, against a running daemon (device code: the daemon signs in and stores the tokens in its
 * own key store) and without one (PKCE, following the printed address like a browser would);
 * mail sent with the delegated token; a refresh refused with AADSTS700082 holds the queue and
 * warns, and a new login delivers what waited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import {
  completeBrowserSignIn,
  MOCK_MAILBOX,
  MOCK_PUBLIC_CLIENT_ID,
  MOCK_SEND_AS,
  MOCK_TENANT_ID,
  type MockTenantOptions,
} from '../mock-tenant/index.js';
import { RELAY_CLI } from '../support/relay-process.js';
import { FaultFixture, LegacyClient, messageIdFor, messageIdOf, waitUntil } from './fault-fixture.js';

const ADMIN = 'it@contoso.example';

/** sage signs in as a person; scanner is app-only and healthy, so it can carry the warnings. */
function accounts(secret: string) {
  return [
    {
      name: 'sage',
      mailbox: MOCK_MAILBOX,
      sendAs: [MOCK_SEND_AS],
      auth: { method: 'delegated' as const, tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID },
    },
    {
      name: 'scanner',
      mailbox: 'scanner@contoso.example',
      auth: { method: 'client-credentials' as const, tenantId: MOCK_TENANT_ID, clientId: '11111111-1111-4111-8111-111111111111', clientSecret: secret },
    },
  ];
}

/** `smtp-oauth-relay login`, its output read line by line as a person would. */
class LoginCommand {
  readonly lines: string[] = [];
  private readonly waiters: Array<{ test: RegExp; resolve: (match: RegExpExecArray) => void }> = [];
  readonly exit: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(configFile: string, args: readonly string[]) {
    this.child = spawn(process.execPath, [RELAY_CLI, 'login', '--account', 'sage', '--config', configFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (line: string): void => {
      this.lines.push(line);
      for (const waiter of [...this.waiters]) {
        const match = waiter.test.exec(line);
        if (match === null) continue;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    };
    createInterface({ input: this.child.stdout! }).on('line', onLine);
    createInterface({ input: this.child.stderr! }).on('line', onLine);
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  waitFor(test: RegExp): Promise<RegExpExecArray> {
    const seen = this.lines.map((line) => test.exec(line)).find((match) => match !== null);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

describe('delegated sign-in, end to end', () => {
  let fixture: FaultFixture | undefined;
  let login: LoginCommand | undefined;

  afterEach(async () => {
    login?.kill();
    login = undefined;
    await fixture?.close();
    fixture = undefined;
  });

  async function setUp(tenant: MockTenantOptions = {}) {
    fixture = await FaultFixture.create(tenant);
    fixture.tenant.identity.configureDeviceCodes({ intervalSeconds: 0.05 });
    const overrides = { accounts: accounts(fixture.tenant.clientSecret), secrets: { keyStore: 'file' as const }, alerts: { notify: [ADMIN] }, log: { file: true } };
    return { fixture, overrides };
  }

  /** Runs `login --device-code` and approves the code on the provider's page, as the person would. */
  async function deviceCodeLogin(f: FaultFixture, configFile: string, user?: string): Promise<LoginCommand> {
    login = new LoginCommand(configFile, ['--device-code']);
    const [, userCode] = await login.waitFor(/enter the code (\S+)/);
    f.tenant.identity.approveDeviceCode(userCode!, user);
    expect(await login.exit).toBe(0);
    return login;
  }

  it('login against a running daemon (device code): the daemon stores the tokens and sends what was held', async () => {
    const { fixture: f, overrides } = await setUp();
    const relay = await f.startRelay(overrides);
    const client = await LegacyClient.connect(relay.port);
    const id = await client.send('held-until-login');
    await client.quit();
    await relay.waitForLog((line) => line.msg.startsWith('account held'));
    // Nothing goes out as sage before the login (the warning to the administrator may already
    // have gone out, through the healthy app-only account).
    expect(f.tenant.upstream.messages.filter((message) => message.mailbox === MOCK_MAILBOX)).toEqual([]);

    const done = await deviceCodeLogin(f, relay.configFile);
    expect(done.lines.join('\n')).toContain(`Signed in as ${MOCK_MAILBOX}`);

    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === id);
    const received = f.tenant.upstream.messages.find((message) => messageIdOf(message) === messageIdFor('held-until-login'));
    // Sent with the delegated token: Exchange's audience and the SMTP.Send scope, as the user.
    expect(received?.mailbox).toBe(MOCK_MAILBOX);
    expect(received?.claims).toMatchObject({ aud: 'https://outlook.office.com', scp: 'SMTP.Send', preferred_username: MOCK_MAILBOX });
    // The administrator had been told that sage was never signed in (through the app-only account).
    const notice = f.tenant.upstream.messages.find((message) => message.rcptTo.includes(ADMIN));
    expect(notice?.mailbox).toBe('scanner@contoso.example');
    expect(notice?.raw.toString()).toContain('login --account sage');

    const state = JSON.parse(await readFile(join(f.dataDir, 'state/sign-in/sage.json'), 'utf8')) as Record<string, unknown>;
    expect(state).toMatchObject({ status: 'ok', signedInAs: MOCK_MAILBOX, mailboxMatches: true });
    expect(Date.parse(String(state.refreshTokenExpiresAt)) - Date.parse(String(state.refreshTokenIssuedAt))).toBe(90 * 24 * 3600_000);
  });

  it('after logout and a login as another user, the next message goes out with the new token, not over a pooled connection with the old one', async () => {
    const { fixture: f, overrides } = await setUp();
    const relay = await f.startRelay(overrides);
    await relay.waitForLog((line) => line.msg.startsWith('account held'));
    await deviceCodeLogin(f, relay.configFile);
    const client = await LegacyClient.connect(relay.port);
    const first = await client.send('before-logout');
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === first);

    const logout = spawn(process.execPath, [RELAY_CLI, 'logout', '--account', 'sage', '--config', relay.configFile], { stdio: 'ignore' });
    expect(await new Promise((resolve) => logout.once('exit', resolve))).toBe(0);
    await deviceCodeLogin(f, relay.configFile, MOCK_SEND_AS);
    const second = await client.send('after-login-as-another');
    await client.quit();
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === second);

    const sent = (tag: string) => f.tenant.upstream.messages.find((message) => messageIdOf(message) === messageIdFor(tag));
    expect(sent('before-logout')?.claims).toMatchObject({ preferred_username: MOCK_MAILBOX });
    expect(sent('after-login-as-another')?.claims).toMatchObject({ preferred_username: MOCK_SEND_AS });
    expect(sent('after-login-as-another')?.token).not.toBe(sent('before-logout')?.token);
  });

  it('login without a daemon (PKCE, the printed address followed like a browser); the relay then sends with it, and no token is in any file', async () => {
    const { fixture: f, overrides } = await setUp();
    const configFile = join(f.dir, 'offline.json');
    await writeFile(configFile, JSON.stringify(f.config(overrides)));

    login = new LoginCommand(configFile, ['--no-browser']);
    const [url] = await login.waitFor(/^https:\/\/\S+authorize\S+$/);
    expect(url).toContain('code_challenge_method=S256');
    await completeBrowserSignIn(url, { caPem: f.tenant.caPem });
    expect(await login.exit).toBe(0);

    const relay = await f.startRelay(overrides);
    const client = await LegacyClient.connect(relay.port);
    await client.send('after-pkce-login');
    await client.quit();
    const [received] = await f.tenant.upstream.waitForMessages(1, 30_000);
    expect(received!.claims).toMatchObject({ scp: 'SMTP.Send' });
    await relay.kill('SIGTERM');

    // Neither the refresh tokens nor the access token are in any file in plain text.
    const secrets = [...f.tenant.identity.refreshTokens(MOCK_MAILBOX).map((token) => token.value), received!.token].filter((s) => s.length > 20);
    expect(secrets.length).toBeGreaterThan(0);
    for (const entry of await readdir(f.dataDir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const bytes = await readFile(join(entry.parentPath, entry.name));
      for (const secret of secrets) expect(bytes.includes(Buffer.from(secret)), `${entry.name} holds a token`).toBe(false);
    }
  });

  it('a refresh refused with AADSTS700082 holds the queue and warns the administrator; a new login delivers what waited', async () => {
    // Access tokens shorter than the reuse margin: every send redeems the refresh token.
    const { fixture: f, overrides } = await setUp({ tokenLifetimeSeconds: 120 });
    const relay = await f.startRelay(overrides);
    await deviceCodeLogin(f, relay.configFile);

    f.tenant.identity.failRefresh({
      error: 'invalid_grant',
      error_description: 'AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2026-08-01 and was inactive for 90.00:00:00.',
      times: 1,
    });
    const client = await LegacyClient.connect(relay.port);
    const id = await client.send('refused-refresh');
    await client.quit();

    const refused = await relay.waitForLog((line) => String(line.msg).startsWith('sign-in required'));
    expect(refused).toMatchObject({ account: 'sage', aadsts: 'AADSTS700082' });
    await relay.waitForLog((line) => line.msg.startsWith('account held'));
    // The warning went out at once, through the healthy app-only account, to the administrator.
    const aboutRefusal = (message: { rcptTo: readonly string[]; raw: Buffer }): boolean =>
      message.rcptTo.includes(ADMIN) && message.raw.toString().includes('AADSTS700082');
    await waitUntil('the notice about the refused refresh', () => f.tenant.upstream.messages.some(aboutRefusal));
    const notice = f.tenant.upstream.messages.find(aboutRefusal)!;
    expect(notice.mailbox).toBe('scanner@contoso.example');
    expect(notice.raw.toString()).toMatch(/Subject: \[smtp-oauth-relay\] .*sage/);
    expect((await f.queueList(relay)).map((entry) => entry.id)).toContain(id);

    await deviceCodeLogin(f, relay.configFile);
    await relay.waitForLog((line) => line.msg === 'message delivered' && line.id === id);
    const delivered = f.tenant.upstream.messages.find((message) => messageIdOf(message) === messageIdFor('refused-refresh'));
    expect(delivered?.claims).toMatchObject({ scp: 'SMTP.Send' });
  });
});
