/**
 * `service <action>` without commander: builds the plan (paths, account), runs the action on the
 * platform's manager, or with `print` only shows what it would write and run.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';
import { loadConfig } from '../core/config-load.js';
import { CONFIG_ENV, INSTALLATION_RECORD_NAME, locationForScope } from '../core/default-paths.js';
import { formatInstallationRecord } from '../core/installation-record.js';
import { NodeFileWriter, SpawnCommandRunner, type CommandRunner, type FileWriter } from './command-runner.js';
import { createServiceManager, serviceDefaults, type ServiceTarget } from './create-service-manager.js';
import { DryRun } from './dry-run.js';
import type { ServicePlan } from './service-manager.js';

export const SERVICE_ACTIONS = ['install', 'uninstall', 'start', 'stop', 'restart', 'status'] as const;
export type ServiceAction = (typeof SERVICE_ACTIONS)[number];

export interface ServiceOptions {
  readonly config?: string;
  readonly account?: string;
  readonly dataDir?: string;
  readonly system?: boolean;
  readonly print?: boolean;
}

export interface ServiceEnvironment {
  readonly target: ServiceTarget;
  /** The Node executable and CLI script the service will start. */
  readonly node: string;
  readonly cli: string;
  readonly out: (text: string) => void;
  /** Real by default; the tests inject a DryRun. */
  readonly runner?: CommandRunner;
  readonly files?: FileWriter;
}

export function currentServiceEnvironment(target: ServiceTarget, out: (text: string) => void): ServiceEnvironment {
  const script = process.argv[1];
  // An npm global install runs a symlink in bin/: the service must start the real file.
  return { target, node: process.execPath, cli: script === undefined ? '' : realpathSync(script), out };
}

/** Returns the exit code: 0 done; for status, the service manager's own code. */
export async function runServiceAction(action: ServiceAction, options: ServiceOptions, environment: ServiceEnvironment): Promise<number> {
  const dryRun = options.print === true ? new DryRun() : undefined;
  const runner = dryRun ?? environment.runner ?? new SpawnCommandRunner();
  const files = dryRun ?? environment.files ?? new NodeFileWriter();
  const manager = createServiceManager(environment.target, runner, files);

  let code = 0;
  switch (action) {
    case 'install': {
      const plan = servicePlan(options, environment, dryRun !== undefined);
      await manager.install(plan);
      await writeInstallationRecord(files, environment.target, plan);
      if (dryRun === undefined) environment.out(`installed and started ${manager.definitionPath} (running as ${plan.account})\n`);
      break;
    }
    case 'status': {
      const result = await manager.status();
      if (dryRun === undefined) environment.out(`${result.stdout}${result.stderr}`);
      code = result.code;
      break;
    }
    case 'uninstall':
      await manager.uninstall();
      await files.removeFile(installationRecordPath(environment.target));
      break;
    default:
      await manager[action]();
  }
  if (dryRun !== undefined) {
    environment.out(`# smtp-oauth-relay service ${action} would do this (nothing was changed):\n${dryRun.transcript()}`);
    return 0;
  }
  return code;
}

/**
 * Where the installation record goes (src/core/installation-record.ts): the install folder of
 * the service's scope, or beside $SMTP_OAUTH_RELAY_CONFIG, where the commands look for it.
 */
export function installationRecordPath(target: ServiceTarget): string {
  const paths = target.platform === 'win32' ? win32 : posix;
  const fromEnv = target.env[CONFIG_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return paths.join(paths.dirname(paths.resolve(fromEnv)), INSTALLATION_RECORD_NAME);
  const scope = target.platform === 'darwin' && !target.system ? 'user' : 'system';
  return locationForScope({ platform: target.platform, env: target.env, home: target.env.HOME ?? homedir() }, scope).record;
}

const MANAGER_NAMES = { linux: 'systemd', win32: 'windows', darwin: 'launchd' } as const;

/** After the service is in place: its configuration, data folder and account, for the commands. */
async function writeInstallationRecord(files: FileWriter, target: ServiceTarget, plan: ServicePlan): Promise<void> {
  const path = installationRecordPath(target);
  const paths = target.platform === 'win32' ? win32 : posix;
  await files.makeDirectory(paths.dirname(path));
  const record = {
    schemaVersion: 1 as const,
    service: 'smtp-oauth-relay',
    manager: MANAGER_NAMES[target.platform],
    account: plan.account,
    config: plan.config,
    dataDir: paths.resolve(plan.dataDir),
    installedAt: new Date().toISOString(),
  };
  await files.writeFile(path, formatInstallationRecord(record), 0o644);
}

/** The plan: given options first, then the configuration's dataDir, then the platform defaults. */
export function servicePlan(options: ServiceOptions, environment: ServiceEnvironment, printing: boolean): ServicePlan {
  const defaults = serviceDefaults(environment.target);
  const paths = environment.target.platform === 'win32' ? win32 : posix;
  const config = paths.resolve(options.config ?? defaults.config);
  const account = options.account ?? defaults.account;
  if (account === undefined) throw new Error('a macOS system daemon runs as a user you name: add --account <user>');
  return { node: environment.node, cli: environment.cli, config, dataDir: dataDirFor(config, options, defaults.dataDir, printing), account };
}

function dataDirFor(config: string, options: ServiceOptions, fallback: string, printing: boolean): string {
  if (options.dataDir !== undefined) return options.dataDir;
  try {
    return loadConfig(config).config.dataDir;
  } catch (error) {
    // Installing a service that cannot start helps no one; a preview may come before the file.
    if (!printing) throw error;
    return fallback;
  }
}
