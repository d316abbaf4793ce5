/**
 * Standing warnings through the real relay and CLI: a TLS-weakening environment, a client secret
 * written in the configuration and a configuration others can read are said at start, in
 * `status` and in `doctor`; and with NODE_TLS_REJECT_UNAUTHORIZED=0 and a CA that did not sign
 * the identity provider's certificate, no token is requested and the error is named as a
 * certificate error. See docs/security.md.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestCertificates } from '../mock-tenant/certs.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { FaultFixture, LegacyClient } from './fault-fixture.js';

describe('standing warnings', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('an inline secret, NODE_TLS_REJECT_UNAUTHORIZED=0 and a readable configuration show at start, in status and in doctor', async () => {
    fixture = await FaultFixture.create();
    const weakened = await RelayProcess.start({ config: fixture.config(), dir: fixture.dir, env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
    try {
      const startWarnings = weakened.logs.filter((line) => line.kind === 'standing-warning').map((line) => line.msg);
      expect(startWarnings).toEqual([expect.stringContaining('NODE_TLS_REJECT_UNAUTHORIZED=0'), expect.stringContaining('keeps its client secret in')]);
      await chmod(weakened.configFile, 0o644);

      const status = await runProcess(process.execPath, [RELAY_CLI, 'status', '--json', '--config', weakened.configFile], { timeoutMs: 30_000 });
      const report = JSON.parse(status.stdout) as { status: string; warnings: string[] };
      expect(status.code).toBe(1);
      expect(report.status).toBe('warning');
      expect(report.warnings).toEqual(
        expect.arrayContaining([
          expect.stringContaining('NODE_TLS_REJECT_UNAUTHORIZED=0'),
          expect.stringContaining('auth.clientSecret'),
          expect.stringContaining('can be read by other users (mode 644)'),
        ]),
      );
      expect(report.warnings.join('\n')).not.toContain(fixture.tenant.clientSecret);

      const doctor = await runProcess(process.execPath, [RELAY_CLI, 'doctor', '--config', weakened.configFile], { timeoutMs: 60_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: '/etc/extra-ca.pem' } });
      expect(doctor.stdout).toMatch(/^WARN  security.*NODE_TLS_REJECT_UNAUTHORIZED=0/m);
      expect(doctor.stdout).toMatch(/^WARN  security.*NODE_EXTRA_CA_CERTS=\/etc\/extra-ca\.pem/m);
      expect(doctor.stdout).toMatch(/^WARN  security.*mode 644/m);
    } finally {
      await weakened.kill('SIGTERM');
    }
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 does not make the relay trust an identity provider its CA did not sign; the error is named', async () => {
    fixture = await FaultFixture.create();
    const wrongCa = join(fixture.dir, 'wrong-ca.pem');
    await writeFile(wrongCa, (await createTestCertificates()).caPem);
    const relay = await RelayProcess.start({
      config: fixture.config({ identity: { authorityHost: fixture.tenant.authorityHost, caFile: wrongCa } }),
      dir: fixture.dir,
      env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' },
    });
    try {
      const client = await LegacyClient.connect(relay.port);
      await client.send('behind-a-wrong-certificate');
      await client.quit();
      const failure = await relay.waitForLog((line) => line.msg === 'token request failed; will retry');
      expect(String(failure.err)).toMatch(/TLS certificate error from the identity provider .*\((CERT_SIGNATURE_FAILURE|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/);
      expect(String(failure.err)).not.toContain('endpoints_resolution_error');
      expect(fixture.tenant.identity.tokenRequests).toBe(0);
      expect(fixture.tenant.upstream.messages).toHaveLength(0);
    } finally {
      await relay.kill('SIGTERM');
    }
  });
});
