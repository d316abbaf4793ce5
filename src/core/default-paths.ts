/**
 * Where an installed relay lives on each OS: its configuration, its data folder, and the
 * installation record that `service install` (or the MSI) leaves beside the configuration.
 * Every command uses this when `--config` is not given, so that an administrator can type
 * `smtp-oauth-relay status` on the server and reach the installed relay.
 *
 * - Windows: %ProgramData%\smtp-oauth-relay (machine-wide data of a service; the MSI creates
 *   it with its final ACL), data in its `data` subfolder.
 * - Linux: /etc/smtp-oauth-relay (FHS: host-specific configuration), data in
 *   /var/lib/smtp-oauth-relay (FHS: variable state of an application).
 * - macOS: ~/Library/Application Support/smtp-oauth-relay for the LaunchAgent that
 *   `service install` makes by default (it runs as that user, with that user's Keychain), and
 *   /Library/Application Support/smtp-oauth-relay for a LaunchDaemon (`--system`). A command
 *   looks in the user's folder first, then the machine's.
 *
 * SMTP_OAUTH_RELAY_CONFIG names the configuration instead (tests, or a relay kept elsewhere);
 * the installation record is then looked for beside that file.
 */
import { existsSync } from 'node:fs';
import { posix, win32 } from 'node:path';

export const PRODUCT_FOLDER = 'smtp-oauth-relay';
export const CONFIG_FILE_NAME = 'relay.json';
/** Written by `service install`, removed by `service uninstall` (src/core/installation-record.ts). */
export const INSTALLATION_RECORD_NAME = 'installed-service.json';
export const CONFIG_ENV = 'SMTP_OAUTH_RELAY_CONFIG';

/** What the defaults depend on; passed in so that each OS's table can be tested anywhere. */
export interface PathContext {
  readonly platform: NodeJS.Platform;
  readonly env: NodeJS.ProcessEnv;
  /** The user's home folder (macOS LaunchAgent). */
  readonly home: string;
}

/** One place a relay is installed: `system` for a machine-wide service, `user` for a macOS LaunchAgent. */
export interface InstallLocation {
  readonly scope: 'system' | 'user';
  readonly folder: string;
  readonly config: string;
  readonly dataDir: string;
  readonly record: string;
}

interface PlatformRow {
  readonly paths: typeof posix;
  /** Install folders in lookup order, the machine-wide one last. */
  readonly folders: (context: PathContext) => ReadonlyArray<{ scope: InstallLocation['scope']; folder: string }>;
  readonly dataDir: (folder: string, paths: typeof posix) => string;
}

const LINUX: PlatformRow = {
  paths: posix,
  folders: () => [{ scope: 'system', folder: `/etc/${PRODUCT_FOLDER}` }],
  dataDir: () => `/var/lib/${PRODUCT_FOLDER}`,
};

const TABLE: Readonly<Record<'win32' | 'linux' | 'darwin', PlatformRow>> = {
  win32: {
    paths: win32,
    folders: ({ env }) => [{ scope: 'system', folder: win32.join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', PRODUCT_FOLDER) }],
    dataDir: (folder, paths) => paths.join(folder, 'data'),
  },
  linux: LINUX,
  darwin: {
    paths: posix,
    folders: ({ home }) => [
      { scope: 'user', folder: posix.join(home, 'Library/Application Support', PRODUCT_FOLDER) },
      { scope: 'system', folder: posix.join('/Library/Application Support', PRODUCT_FOLDER) },
    ],
    dataDir: (folder, paths) => paths.join(folder, 'data'),
  },
};

/** Other Unix systems (FreeBSD...) get the Linux layout. */
function rowFor(platform: NodeJS.Platform): PlatformRow {
  return platform === 'win32' || platform === 'darwin' ? TABLE[platform] : LINUX;
}

/** The install locations of this OS, in the order a command looks at them. */
export function installLocations(context: PathContext): InstallLocation[] {
  const row = rowFor(context.platform);
  return row.folders(context).map(({ scope, folder }) => ({
    scope,
    folder,
    config: row.paths.join(folder, CONFIG_FILE_NAME),
    dataDir: row.dataDir(folder, row.paths),
    record: row.paths.join(folder, INSTALLATION_RECORD_NAME),
  }));
}

/** The machine-wide location (a Windows service, a systemd unit, a macOS LaunchDaemon). */
export function systemLocation(context: PathContext): InstallLocation {
  const locations = installLocations(context);
  const system = locations.find((location) => location.scope === 'system') ?? locations[locations.length - 1];
  if (system === undefined) throw new Error(`no install location for ${context.platform}`);
  return system;
}

/** The location a service of this scope is installed in (macOS: LaunchAgent = user). */
export function locationForScope(context: PathContext, scope: InstallLocation['scope']): InstallLocation {
  return installLocations(context).find((location) => location.scope === scope) ?? systemLocation(context);
}

export interface DefaultConfig {
  /** The configuration file to use when --config is absent. */
  readonly file: string;
  /** Where the installation record is (or would be). */
  readonly record: string;
  /** Why this file: for messages. */
  readonly source: 'environment' | 'installed' | 'platform default';
}

/**
 * The configuration a command uses without --config: $SMTP_OAUTH_RELAY_CONFIG, else the first
 * install location that holds a configuration or an installation record, else the machine-wide
 * default (whose absence `config check` then reports by its full path). An installation
 * record that names its configuration elsewhere is followed by the caller (installation-record.ts).
 */
export function defaultConfig(context: PathContext, exists: (path: string) => boolean = existsSync): DefaultConfig {
  const paths = rowFor(context.platform).paths;
  const fromEnv = context.env[CONFIG_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const file = paths.resolve(fromEnv);
    return { file, record: paths.join(paths.dirname(file), INSTALLATION_RECORD_NAME), source: 'environment' };
  }
  const locations = installLocations(context);
  const found = locations.find((location) => exists(location.config) || exists(location.record));
  const chosen = found ?? systemLocation(context);
  return { file: chosen.config, record: chosen.record, source: found === undefined ? 'platform default' : 'installed' };
}
