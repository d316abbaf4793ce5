import { describe, expect, it } from 'vitest';
import type { PathContext } from '../core/default-paths.js';
import type { InstallationRecord, InstallationRecordLookup } from '../core/installation-record.js';
import { assertMayWorkHere, serviceOwnership, ServiceNotRunningError, type GuardFacts } from './service-guard.js';

function record(dataDir: string): InstallationRecord {
  return { schemaVersion: 1, service: 'smtp-oauth-relay', manager: 'windows', account: 'NT SERVICE\\smtp-oauth-relay', config: 'x', dataDir, installedAt: '2026-12-01T08:00:00.000Z' };
}

function facts(context: PathContext, records: Readonly<Record<string, InstallationRecordLookup>> = {}, owners: Readonly<Record<string, number>> = {}, uid?: number): GuardFacts {
  return { context, readRecord: (path) => records[path] ?? { found: false }, ownerOf: (path) => owners[path], uid };
}

const windows: PathContext = { platform: 'win32', env: { ProgramData: 'C:\\ProgramData' }, home: 'C:\\Users\\admin' };
const linux: PathContext = { platform: 'linux', env: {}, home: '/root' };
const mac: PathContext = { platform: 'darwin', env: {}, home: '/Users/admin' };
const windowsRecord = 'C:\\ProgramData\\smtp-oauth-relay\\installed-service.json';

describe('serviceOwnership', () => {
  it('Windows: the installation record names the data folder, however it is spelt', () => {
    const installed = facts(windows, { [windowsRecord]: { found: true, record: record('D:\\Relay\\Data') } });
    expect(serviceOwnership('d:\\relay\\data\\', installed)).toContain('running as NT SERVICE\\smtp-oauth-relay');
    expect(serviceOwnership('D:\\Other', installed)).toBeUndefined();
  });

  it("Windows: %ProgramData%\\smtp-oauth-relay is the service's, with or without a record", () => {
    expect(serviceOwnership('c:\\programdata\\SMTP-OAUTH-RELAY\\data', facts(windows))).toContain('where the installed service keeps its data');
    expect(serviceOwnership('C:\\ProgramData\\smtp-oauth-relay-test', facts(windows))).toBeUndefined();
    expect(serviceOwnership('C:\\Users\\admin\\relay\\data', facts(windows))).toBeUndefined();
  });

  it('a record that cannot be read means a service is installed', () => {
    const locked = facts(linux, { '/etc/smtp-oauth-relay/installed-service.json': { found: true, problem: 'EACCES' } });
    expect(serviceOwnership('/home/admin/relay', locked)).toContain('EACCES');
  });

  it("Linux: /var/lib/smtp-oauth-relay, or a data folder owned by another user, is the service's", () => {
    expect(serviceOwnership('/var/lib/smtp-oauth-relay/', facts(linux, {}, {}, 0))).toContain('where the installed service keeps its data');
    expect(serviceOwnership('/srv/relay', facts(linux, {}, { '/srv/relay': 998 }, 0))).toContain('uid 998');
    expect(serviceOwnership('/srv/relay', facts(linux, {}, { '/srv/relay': 0 }, 0))).toBeUndefined();
    // A folder not made yet belongs to whoever makes it.
    expect(serviceOwnership('/srv/relay', facts(linux, {}, {}, 0))).toBeUndefined();
  });

  it("macOS: a LaunchDaemon's folder is the service's, a LaunchAgent's is the user's own", () => {
    expect(serviceOwnership('/Library/Application Support/smtp-oauth-relay/data', facts(mac, {}, {}, 501))).toBeDefined();
    expect(serviceOwnership('/Users/admin/Library/Application Support/smtp-oauth-relay/data', facts(mac, {}, {}, 501))).toBeUndefined();
  });

  it('SMTP_OAUTH_RELAY_CONFIG: the record beside it counts too', () => {
    const context = { ...linux, env: { SMTP_OAUTH_RELAY_CONFIG: '/srv/r/relay.json' } };
    const installed = facts(context, { '/srv/r/installed-service.json': { found: true, record: record('/srv/r/data') } });
    expect(serviceOwnership('/srv/r/data', installed)).toBeDefined();
  });
});

describe('assertMayWorkHere', () => {
  it('refuses with the command that starts the service; --offline allows it', () => {
    const owned = facts(windows);
    const folder = 'C:\\ProgramData\\smtp-oauth-relay\\data';
    expect(() => assertMayWorkHere(folder, '\\\\.\\pipe\\x', false, owned)).toThrow(ServiceNotRunningError);
    expect(() => assertMayWorkHere(folder, '\\\\.\\pipe\\x', false, owned)).toThrow(/smtp-oauth-relay service start/);
    expect(() => assertMayWorkHere(folder, '\\\\.\\pipe\\x', true, owned)).not.toThrow();
    expect(() => assertMayWorkHere('C:\\Users\\admin\\relay', '\\\\.\\pipe\\x', false, owned)).not.toThrow();
  });
});
