import { describe, expect, it } from 'vitest';
import { defaultConfig, installLocations, locationForScope, systemLocation, type PathContext } from './default-paths.js';

const windows: PathContext = { platform: 'win32', env: { ProgramData: 'D:\\ProgramData' }, home: 'C:\\Users\\admin' };
const linux: PathContext = { platform: 'linux', env: {}, home: '/root' };
const mac: PathContext = { platform: 'darwin', env: {}, home: '/Users/admin' };
const nothing = (): boolean => false;

describe('the install locations per OS', () => {
  it('Windows: %ProgramData%\\smtp-oauth-relay, data inside it', () => {
    expect(installLocations(windows)).toEqual([
      {
        scope: 'system',
        folder: 'D:\\ProgramData\\smtp-oauth-relay',
        config: 'D:\\ProgramData\\smtp-oauth-relay\\relay.json',
        dataDir: 'D:\\ProgramData\\smtp-oauth-relay\\data',
        record: 'D:\\ProgramData\\smtp-oauth-relay\\installed-service.json',
      },
    ]);
    expect(systemLocation({ ...windows, env: {} }).config).toBe('C:\\ProgramData\\smtp-oauth-relay\\relay.json');
  });

  it('Linux (and other Unix systems): /etc for the configuration, /var/lib for the data', () => {
    for (const context of [linux, { ...linux, platform: 'freebsd' as const }]) {
      expect(installLocations(context)).toEqual([
        {
          scope: 'system',
          folder: '/etc/smtp-oauth-relay',
          config: '/etc/smtp-oauth-relay/relay.json',
          dataDir: '/var/lib/smtp-oauth-relay',
          record: '/etc/smtp-oauth-relay/installed-service.json',
        },
      ]);
    }
  });

  it("macOS: the user's Application Support for a LaunchAgent, then the machine's for a LaunchDaemon", () => {
    expect(installLocations(mac).map((location) => [location.scope, location.config, location.dataDir])).toEqual([
      ['user', '/Users/admin/Library/Application Support/smtp-oauth-relay/relay.json', '/Users/admin/Library/Application Support/smtp-oauth-relay/data'],
      ['system', '/Library/Application Support/smtp-oauth-relay/relay.json', '/Library/Application Support/smtp-oauth-relay/data'],
    ]);
    expect(locationForScope(mac, 'user').folder).toBe('/Users/admin/Library/Application Support/smtp-oauth-relay');
    expect(locationForScope(linux, 'user').folder).toBe('/etc/smtp-oauth-relay');
  });
});

describe('defaultConfig', () => {
  it('is the machine-wide path when nothing is installed', () => {
    expect(defaultConfig(windows, nothing)).toEqual({
      file: 'D:\\ProgramData\\smtp-oauth-relay\\relay.json',
      record: 'D:\\ProgramData\\smtp-oauth-relay\\installed-service.json',
      source: 'platform default',
    });
    expect(defaultConfig(linux, nothing).file).toBe('/etc/smtp-oauth-relay/relay.json');
    expect(defaultConfig(mac, nothing).file).toBe('/Library/Application Support/smtp-oauth-relay/relay.json');
  });

  it("macOS: the user's configuration when it is there", () => {
    const userConfig = '/Users/admin/Library/Application Support/smtp-oauth-relay/relay.json';
    expect(defaultConfig(mac, (path) => path === userConfig)).toMatchObject({ file: userConfig, source: 'installed' });
    const systemRecord = '/Library/Application Support/smtp-oauth-relay/installed-service.json';
    expect(defaultConfig(mac, (path) => path === systemRecord)).toMatchObject({ file: '/Library/Application Support/smtp-oauth-relay/relay.json', record: systemRecord });
  });

  it('SMTP_OAUTH_RELAY_CONFIG names the file, with the record beside it', () => {
    const context = { ...linux, env: { SMTP_OAUTH_RELAY_CONFIG: '/srv/relay/relay.json' } };
    expect(defaultConfig(context, () => true)).toEqual({ file: '/srv/relay/relay.json', record: '/srv/relay/installed-service.json', source: 'environment' });
    expect(defaultConfig({ ...windows, env: { SMTP_OAUTH_RELAY_CONFIG: 'E:\\relay\\relay.json' } }).record).toBe('E:\\relay\\installed-service.json');
    expect(defaultConfig({ ...linux, env: { SMTP_OAUTH_RELAY_CONFIG: '' } }, nothing).source).toBe('platform default');
  });
});
