/**
 * Picks the service manager for the platform and the defaults that go with it.
 */
import { homedir, userInfo } from 'node:os';
import type { CommandRunner, FileWriter } from './command-runner.js';
import { LaunchdManager, launchdDefaults } from './launchd-manager.js';
import type { ServiceManager } from './service-manager.js';
import { SYSTEMD_DEFAULTS, SystemdManager } from './systemd-manager.js';
import { ScManager, windowsDefaults, windowsLayout } from './sc-manager.js';

export type ServicePlatform = 'linux' | 'win32' | 'darwin';

export interface ServiceTarget {
  readonly platform: ServicePlatform;
  /** macOS: a LaunchDaemon (boot, system domain) rather than the user's LaunchAgent. */
  readonly system: boolean;
  readonly env: NodeJS.ProcessEnv;
}

export interface ServiceDefaults {
  readonly config: string;
  readonly dataDir: string;
  /** undefined: the administrator must name one (a macOS system daemon). */
  readonly account: string | undefined;
}

export function servicePlatform(platform: NodeJS.Platform = process.platform): ServicePlatform {
  if (platform === 'linux' || platform === 'win32' || platform === 'darwin') return platform;
  throw new Error(`no service manager for ${platform}: run "smtp-oauth-relay serve --config FILE" under your own`);
}

export function createServiceManager(target: ServiceTarget, runner: CommandRunner, files: FileWriter): ServiceManager {
  switch (target.platform) {
    case 'linux':
      return new SystemdManager(runner, files);
    case 'win32':
      return new ScManager(runner);
    case 'darwin':
      return new LaunchdManager(runner, files, launchdLayout(target));
  }
}

export function serviceDefaults(target: ServiceTarget): ServiceDefaults {
  switch (target.platform) {
    case 'linux':
      return SYSTEMD_DEFAULTS;
    case 'win32':
      return windowsDefaults(windowsLayout(target.env));
    case 'darwin':
      return { ...launchdDefaults(launchdLayout(target)), account: target.system ? undefined : userInfo().username };
  }
}

function launchdLayout(target: ServiceTarget): { system: boolean; home: string; uid: number } {
  return { system: target.system, home: target.env.HOME ?? homedir(), uid: process.getuid?.() ?? 501 };
}
