import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFileWarnings, environmentWarnings, fileModeWarnings, inlineSecretWarnings } from './standing-warnings.js';

const appOnly = (clientSecret?: string) => ({ name: 'sage', auth: { method: 'client-credentials', ...(clientSecret === undefined ? {} : { clientSecret }) } });

describe('standing warnings', () => {
  it('name a TLS-weakening environment, and nothing for a clean one', () => {
    expect(environmentWarnings({})).toEqual([]);
    expect(environmentWarnings({ NODE_TLS_REJECT_UNAUTHORIZED: '1' })).toEqual([]);
    const warnings = environmentWarnings({ NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_EXTRA_CA_CERTS: '/etc/proxy-ca.pem' });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('NODE_TLS_REJECT_UNAUTHORIZED=0');
    expect(warnings[1]).toContain('NODE_EXTRA_CA_CERTS=/etc/proxy-ca.pem');
  });

  it('name an inline client secret without showing it', () => {
    expect(inlineSecretWarnings('/etc/relay.json', { dataDir: '/d', accounts: [appOnly()] })).toEqual([]);
    const [warning] = inlineSecretWarnings('/etc/relay.json', { dataDir: '/d', accounts: [appOnly('hunter2')] });
    expect(warning).toContain('secret set --account sage');
    expect(warning).not.toContain('hunter2');
  });

  it('name a configuration others can read or change; the service group may read', () => {
    const serviceGid = 998;
    expect(fileModeWarnings('/c', { mode: 0o100600, gid: 0 }, serviceGid, 'linux')).toEqual([]);
    expect(fileModeWarnings('/c', { mode: 0o100640, gid: serviceGid }, serviceGid, 'linux')).toEqual([]);
    expect(fileModeWarnings('/c', { mode: 0o100640, gid: 0 }, serviceGid, 'linux')[0]).toContain('read by other users (mode 640)');
    expect(fileModeWarnings('/c', { mode: 0o100644, gid: serviceGid }, serviceGid, 'linux')[0]).toContain('mode 644');
    expect(fileModeWarnings('/c', { mode: 0o100666, gid: 0 }, serviceGid, 'linux')[0]).toContain('changed by users other than its owner');
    expect(fileModeWarnings('/c', { mode: 0o100666, gid: 0 }, serviceGid, 'win32')).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')('read the real file\'s mode', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'standing-'));
    try {
      const file = join(dir, 'relay.json');
      await writeFile(file, '{}');
      await chmod(file, 0o644);
      expect(await configFileWarnings(file, { dataDir: join(dir, 'data'), accounts: [] })).toEqual([expect.stringContaining('mode 644')]);
      await chmod(file, 0o600);
      expect(await configFileWarnings(file, { dataDir: join(dir, 'data'), accounts: [] })).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
