/**
 * STARTTLS and TLS failures upstream are never a bounce (issue 10, finding 3): with the fake
 * Exchange answering 500 to STARTTLS, not offering it, or presenting a certificate the relay does
 * not trust, the message stays queued (no DSN, no attempt burnt), no AUTH (and so no token) ever
 * reaches the upstream, and after tlsFailuresBeforeHold tries the account is held with a loud log
 * line, a status problem and an OS log warning (a <4> journal line under systemd). Once the path
 * is fixed the probe delivers it. Needs `npm run build` first.
 */
import { generate } from 'selfsigned';
import { afterEach, describe, expect, it } from 'vitest';
import type { StartTlsMode } from '../mock-tenant/upstream.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { FaultFixture, LegacyClient, messageIdFor, messageIdOf, waitUntil } from './fault-fixture.js';

const HELD = /^account held: STARTTLS\/TLS to the upstream failed 3 times in a row/;

/** A certificate for the right names, signed by nobody the relay trusts. */
async function untrustedCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

describe('a broken STARTTLS step upstream', () => {
  let fixture: FaultFixture | undefined;
  let relay: RelayProcess | undefined;

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && relay !== undefined) process.stdout.write(`${relay.logs.map((line) => JSON.stringify(line)).join('\n')}\n${relay.stderr.join('\n')}\n`);
    await relay?.kill('SIGKILL');
    relay = undefined;
    await fixture?.close();
    fixture = undefined;
  });

  it.each<[string, StartTlsMode | 'certificate', string]>([
    ['answered 500', 'refuse', 'starttls-failed'],
    ['not offered', 'absent', 'starttls-failed'],
    ['a wrong certificate', 'certificate', 'certificate-untrusted'],
  ])('STARTTLS %s: no bounce, no token, held after 3 tries with a log line, a status problem and an OS log warning', async (_name, mode, condition) => {
    fixture = await FaultFixture.create();
    const { upstream } = fixture.tenant;
    if (mode === 'certificate') upstream.presentCertificate(await untrustedCertificate());
    else upstream.setStartTls(mode);
    const config = fixture.config({ delivery: { upstreamRetrySeconds: 1, tlsFailuresBeforeHold: 3, holdRetrySeconds: 2 } });
    // JOURNAL_STREAM: the OS log is the journal, a <4> line on stderr (src/health/os-log.ts).
    relay = await RelayProcess.start({ config, dir: fixture.dir, env: { SMTP_OAUTH_RELAY_SECRET: fixture.tenant.clientSecret, JOURNAL_STREAM: '8:1' } });

    const running = relay;
    const client = await LegacyClient.connect(running.port);
    const id = await client.send('tls-broken');
    await client.quit();

    const held = await running.waitForLog((line) => HELD.test(line.msg), 30_000);
    expect(held).toMatchObject({ account: 'sage', state: 'held-for-admin', condition });
    // Never a bounce, never an attempt burnt, never AUTH (so never a token) without TLS.
    expect(running.linesWith('delivery status notification queued')).toEqual([]);
    expect(running.linesWith('message refused permanently')).toEqual([]);
    expect(upstream.authAttempts).toBe(0);
    expect(upstream.messages).toEqual([]);
    const [queued] = await fixture.queueList(running);
    expect(queued).toMatchObject({ id, attempts: 0 });
    expect(await fixture.queueList(running, true)).toEqual([]);
    if (process.platform === 'linux') await waitUntil('the OS log warning', () => running.stderr.some((line) => line.startsWith('<4>sage: delivery held')));

    const status = await runProcess(process.execPath, [RELAY_CLI, 'status', '--config', running.configFile, '--json'], { timeoutMs: 30_000 });
    const report = JSON.parse(status.stdout) as { exitCode: number; accounts: Array<{ state: string; delivery?: { state: string; condition?: string } }>; problems: Array<{ text: string; nextStep?: string }> };
    expect(report.exitCode).toBe(2);
    expect(report.accounts[0]).toMatchObject({ state: 'admin-action-required', delivery: { state: 'held-for-admin', condition } });
    expect(report.problems[0]?.text).toMatch(/STARTTLS|certificate/);
    expect(report.problems[0]?.nextStep).toMatch(/inspection|upstream\.caFile/);

    // The path is fixed: the next probe delivers the message, once.
    upstream.setStartTls('offer');
    upstream.presentCertificate(undefined);
    await waitUntil('delivered', () => upstream.messages.some((message) => messageIdOf(message) === messageIdFor('tls-broken')));
    await running.waitForLog((line) => line.msg === 'sign-in works again; hold lifted');
    expect(upstream.messages).toHaveLength(1);
    expect(await running.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});
