/**
 * `smtp-oauth-relay login` that ends without a sign-in, through the real processes: Ctrl+C on
 * `login --no-browser` (signing in here, and through a running daemon) closes the loopback
 * port and a late redirect redeems nothing; a login the identity provider refuses prints the
 * catalogue's meaning and fix and leaves a line in the daemon's log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { conditionById } from '../../src/core/conditions/index.js';
import { completeBrowserSignIn, MOCK_MAILBOX, MOCK_PUBLIC_CLIENT_ID, MOCK_TENANT_ID } from '../mock-tenant/index.js';
import { entraError } from '../mock-tenant/entra-error-body.js';
import { RELAY_CLI } from '../support/relay-process.js';
import { FaultFixture } from './fault-fixture.js';
import { refusesConnections } from '../support/ports.js';

const DELEGATED = [{ name: 'sage', mailbox: MOCK_MAILBOX, auth: { method: 'delegated' as const, tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID } }];
const OVERRIDES = { accounts: DELEGATED, secrets: { keyStore: 'file' as const } };

/** `login --no-browser`, its output read line by line. */
class Login {
  readonly lines: string[] = [];
  readonly exit: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(configFile: string) {
    this.child = spawn(process.execPath, [RELAY_CLI, 'login', '--account', 'sage', '--config', configFile, '--no-browser'], { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.lines.push(line));
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.lines.push(line));
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  async address(): Promise<string> {
    for (;;) {
      const url = this.lines.find((line) => /^https:\/\/\S+authorize\S+$/.test(line));
      if (url !== undefined) return url;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  interrupt(): void {
    this.child.kill('SIGINT');
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** Whether the loopback listener named by a sign-in address's redirect_uri is closed. */
function redirectRefusesConnections(url: string): Promise<boolean> {
  return refusesConnections(Number(new URL(new URL(url).searchParams.get('redirect_uri') ?? '').port));
}

describe('login that ends without a sign-in, end to end', () => {
  let fixture: FaultFixture | undefined;
  let login: Login | undefined;

  afterEach(async () => {
    login?.kill();
    login = undefined;
    await fixture?.close();
    fixture = undefined;
  });

  it('Ctrl+C on login --no-browser without a daemon closes the port (exit 130); the late redirect redeems nothing', async () => {
    fixture = await FaultFixture.create();
    const configFile = join(fixture.dir, 'offline.json');
    await writeFile(configFile, JSON.stringify(fixture.config(OVERRIDES)));
    login = new Login(configFile);
    const url = await login.address();
    login.interrupt();
    expect(await login.exit).toBe(130);
    expect(login.lines.join('\n')).toContain('cancelled');
    expect(await redirectRefusesConnections(url)).toBe(true);
    const requests = fixture.tenant.identity.tokenRequests;
    await expect(completeBrowserSignIn(url, { caPem: fixture.tenant.caPem })).rejects.toThrow(/ECONNREFUSED/);
    expect(fixture.tenant.identity.tokenRequests).toBe(requests);
  });

  it('through a daemon: the CLI interrupted, the daemon closes its listener and logs the cancel', async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay(OVERRIDES);
    login = new Login(relay.configFile);
    const url = await login.address();
    login.interrupt();
    expect(await login.exit).toBe(130);
    const cancelled = await relay.waitForLog((line) => String(line.msg).startsWith('sign-in cancelled'));
    expect(cancelled).toMatchObject({ account: 'sage', port: Number(new URL(new URL(url).searchParams.get('redirect_uri') ?? '').port) });
    expect(await redirectRefusesConnections(url)).toBe(true);
    const requests = fixture.tenant.identity.tokenRequests;
    await expect(completeBrowserSignIn(url, { caPem: fixture.tenant.caPem })).rejects.toThrow(/ECONNREFUSED/);
    expect(fixture.tenant.identity.tokenRequests).toBe(requests);
  });

  it("a refused login through the daemon prints the catalogue's meaning and fix, and the daemon logs it", async () => {
    fixture = await FaultFixture.create();
    const relay = await fixture.startRelay(OVERRIDES);
    const refusal = entraError('invalid_grant', 'AADSTS53003', 'Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.');
    fixture.tenant.identity.failNext({ status: 400, error: String(refusal.error), error_description: String(refusal.error_description) });
    login = new Login(relay.configFile);
    await completeBrowserSignIn(await login.address(), { caPem: fixture.tenant.caPem });
    expect(await login.exit).toBe(1);

    const blocked = conditionById('account-blocked');
    const printed = login.lines.join('\n');
    expect(printed).toContain(`the sign-in failed: ${blocked?.meaning}`);
    expect(printed).toContain('Fix: An Entra administrator must allow the sign-in');
    expect(printed).not.toContain('Error(s): Not Available');
    const logged = await relay.waitForLog((line) => String(line.msg).includes('the sign-in failed'));
    expect(logged).toMatchObject({ level: 50, account: 'sage', condition: 'account-blocked', aadsts: 'AADSTS53003' });
  });
});
