/** Which configuration a command uses without --config, on each OS (the platform is passed in). */
import { describe, expect, it } from 'vitest';
import type { PathContext } from '../core/default-paths.js';
import type { InstallationRecord, InstallationRecordLookup } from '../core/installation-record.js';
import { resolveConfigFile, type ConfigLookup } from './default-config.js';

function record(config: string, dataDir: string, manager: InstallationRecord['manager']): InstallationRecord {
  return { schemaVersion: 1, service: 'smtp-oauth-relay', manager, account: 'svc', config, dataDir, installedAt: '2026-12-01T08:00:00.000Z' };
}

/** A machine on which only `files` exist, and `records` are the installation records on it. */
function machine(files: readonly string[], records: Readonly<Record<string, InstallationRecord>> = {}): ConfigLookup {
  return {
    exists: (path) => files.includes(path) || path in records,
    readRecord: (path): InstallationRecordLookup => {
      const found = records[path];
      return found === undefined ? { found: false } : { found: true, record: found };
    },
  };
}

const cases: ReadonlyArray<{ os: string; context: PathContext; record: string; config: string; elsewhere: string }> = [
  {
    os: 'Windows',
    context: { platform: 'win32', env: { ProgramData: 'C:\\ProgramData' }, home: 'C:\\Users\\admin' },
    record: 'C:\\ProgramData\\smtp-oauth-relay\\installed-service.json',
    config: 'C:\\ProgramData\\smtp-oauth-relay\\relay.json',
    elsewhere: 'E:\\Relay\\relay.json',
  },
  {
    os: 'Linux',
    context: { platform: 'linux', env: {}, home: '/root' },
    record: '/etc/smtp-oauth-relay/installed-service.json',
    config: '/etc/smtp-oauth-relay/relay.json',
    elsewhere: '/srv/relay/relay.json',
  },
  {
    os: 'macOS (LaunchDaemon)',
    context: { platform: 'darwin', env: {}, home: '/Users/admin' },
    record: '/Library/Application Support/smtp-oauth-relay/installed-service.json',
    config: '/Library/Application Support/smtp-oauth-relay/relay.json',
    elsewhere: '/opt/relay/relay.json',
  },
];

describe.each(cases)('without --config on $os', ({ context, record: recordPath, config, elsewhere }) => {
  it('uses the installed configuration at the default path', () => {
    expect(resolveConfigFile(context, machine([config]))).toMatchObject({ file: config, source: 'installed' });
  });

  it('follows the installation record to a configuration kept elsewhere', () => {
    const installed = machine([], { [recordPath]: record(elsewhere, '/data', 'systemd') });
    expect(resolveConfigFile(context, installed)).toMatchObject({ file: elsewhere, source: 'installed' });
  });

  it('names the default path when nothing is installed', () => {
    expect(resolveConfigFile(context, machine([]))).toMatchObject({ file: config, source: 'platform default' });
  });

  it('takes SMTP_OAUTH_RELAY_CONFIG over anything installed', () => {
    const withEnv = { ...context, env: { ...context.env, SMTP_OAUTH_RELAY_CONFIG: elsewhere } };
    const installed = machine([config], { [recordPath]: record(config, '/data', 'systemd') });
    expect(resolveConfigFile(withEnv, installed)).toMatchObject({ file: elsewhere, source: 'environment' });
  });
});

describe('without --config on macOS, for a LaunchAgent', () => {
  it("looks in the user's folder before the machine's", () => {
    const context: PathContext = { platform: 'darwin', env: {}, home: '/Users/admin' };
    const userConfig = '/Users/admin/Library/Application Support/smtp-oauth-relay/relay.json';
    const both = machine([userConfig, '/Library/Application Support/smtp-oauth-relay/relay.json']);
    expect(resolveConfigFile(context, both).file).toBe(userConfig);
  });
});
