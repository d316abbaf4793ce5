/**
 * Warnings reach the journal when systemd runs the relay (issue 5): with JOURNAL_STREAM set, as
 * systemd sets it for a service whose stderr goes to the journal, a delegated account that was
 * never signed in raises "sign-in required" as a stderr line with the sd-daemon prefix <4>
 * (journald stores it at priority warning). Without it, stderr stays free of such lines.
 * Needs `npm run build` first (npm test does it); runs on every platform (no systemd needed).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MOCK_MAILBOX, MOCK_PUBLIC_CLIENT_ID, MOCK_SEND_AS, MOCK_TENANT_ID } from '../mock-tenant/index.js';
import { RelayProcess } from '../support/relay-process.js';
import { FaultFixture, waitUntil } from './fault-fixture.js';

const neverSignedIn = [
  {
    name: 'sage',
    mailbox: MOCK_MAILBOX,
    sendAs: [MOCK_SEND_AS],
    auth: { method: 'delegated' as const, tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID },
  },
];

describe.skipIf(process.platform !== 'linux')('warnings in the journal', () => {
  let fixture: FaultFixture | undefined;

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && fixture !== undefined) process.stdout.write(`${fixture.logs()}\n`);
    await fixture?.close();
    fixture = undefined;
  });

  async function start(env: NodeJS.ProcessEnv): Promise<RelayProcess> {
    fixture = await FaultFixture.create();
    const config = fixture.config({ accounts: neverSignedIn, secrets: { keyStore: 'file' } });
    return RelayProcess.start({ config, dir: fixture.dir, env: { ...env, SMTP_OAUTH_RELAY_SECRET: fixture.tenant.clientSecret } });
  }

  it('under systemd (JOURNAL_STREAM set): "sign-in required" is a <4> line on stderr', async () => {
    const relay = await start({ JOURNAL_STREAM: '8:12345' });
    await waitUntil('the warning on stderr', () => relay.stderr.some((line) => line.startsWith('<4>')));
    const lines = relay.stderr.filter((line) => /^<\d>/.test(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^<4>sage: .*smtp-oauth-relay login --account sage/);
    expect(await relay.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('outside systemd: the warning is only in the JSON log', async () => {
    const relay = await start({ JOURNAL_STREAM: undefined, INVOCATION_ID: undefined });
    await relay.waitForLog((line) => line.kind === 'sign-in-required');
    expect(await relay.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(relay.stderr.filter((line) => /^<\d>/.test(line))).toEqual([]);
  });
});
