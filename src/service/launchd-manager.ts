/**
 * macOS: launchd. By default a LaunchAgent in ~/Library/LaunchAgents, run as the logged-in user
 * who installs it, because that user's login Keychain is where the relay keeps its keys; it runs
 * while that user is logged in. `--system` installs a LaunchDaemon in /Library/LaunchDaemons,
 * run at boot as the given user (UserName), which has no unlocked login Keychain: then use
 * "secrets": {"keyStore": "file"}.
 */
import { posix } from 'node:path';
import { locationForScope } from '../core/default-paths.js';
import { mustRun } from './checked-run.js';
import type { CommandResult, CommandRunner, FileWriter } from './command-runner.js';
import { renderTemplate, xmlEscape } from './render-template.js';
import type { ServiceManager, ServicePlan } from './service-manager.js';
import { readTemplate } from './templates.js';
import { DATA_FOLDER_NAMES } from '../core/data-paths.js';

export const LAUNCHD_LABEL = 'com.smtp-oauth-relay';

export interface LaunchdLayout {
  /** A LaunchDaemon (boot, UserName) instead of the user's LaunchAgent. */
  readonly system: boolean;
  /** The installing user's home and uid (the agent's folder and launchctl domain gui/<uid>). */
  readonly home: string;
  readonly uid: number;
}

/** The LaunchDaemon's folder in /Library, the LaunchAgent's in the user's (src/core/default-paths.ts). */
export function launchdDefaults(layout: LaunchdLayout): { config: string; dataDir: string } {
  const location = locationForScope({ platform: 'darwin', env: {}, home: layout.home }, layout.system ? 'system' : 'user');
  return { config: location.config, dataDir: location.dataDir };
}

export function renderLaunchdPlist(plan: ServicePlan, layout: LaunchdLayout): string {
  const userName = layout.system ? `  <key>UserName</key>\n  <string>${xmlEscape(plan.account)}</string>\n` : '';
  return renderTemplate(
    readTemplate('launchd/com.smtp-oauth-relay.plist'),
    { NODE: plan.node, CLI: plan.cli, CONFIG: plan.config, DATA_DIR: plan.dataDir, LOG_DIR: posix.join(plan.dataDir, DATA_FOLDER_NAMES.logs) },
    xmlEscape,
    { USER_NAME: userName },
  );
}

export class LaunchdManager implements ServiceManager {
  readonly definitionPath: string;
  private readonly domain: string;

  constructor(
    private readonly runner: CommandRunner,
    private readonly files: FileWriter,
    private readonly layout: LaunchdLayout,
  ) {
    this.definitionPath = layout.system
      ? `/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist`
      : posix.join(layout.home, 'Library/LaunchAgents', `${LAUNCHD_LABEL}.plist`);
    this.domain = layout.system ? 'system' : `gui/${layout.uid}`;
  }

  private get target(): string {
    return `${this.domain}/${LAUNCHD_LABEL}`;
  }

  async install(plan: ServicePlan): Promise<void> {
    const plist = renderLaunchdPlist(plan, this.layout);
    await this.files.makeDirectory(posix.join(plan.dataDir, DATA_FOLDER_NAMES.logs), 0o700);
    if (this.layout.system) {
      // The daemon's user owns its data folder; launchd refuses a daemon plist others can write.
      await mustRun(this.runner, 'chown', ['-R', plan.account, plan.dataDir]);
    }
    await this.files.makeDirectory(posix.dirname(this.definitionPath));
    await this.files.writeFile(this.definitionPath, plist, 0o644);
    // RunAtLoad starts it as soon as it is loaded.
    await mustRun(this.runner, 'launchctl', ['bootstrap', this.domain, this.definitionPath]);
  }

  async uninstall(): Promise<void> {
    await this.runner.run('launchctl', ['bootout', this.target]);
    await this.files.removeFile(this.definitionPath);
  }

  async start(): Promise<void> {
    await mustRun(this.runner, 'launchctl', ['kickstart', this.target]);
  }

  /** SIGTERM: the relay exits 0, and KeepAlive {SuccessfulExit: false} leaves it stopped. */
  async stop(): Promise<void> {
    await mustRun(this.runner, 'launchctl', ['kill', 'SIGTERM', this.target]);
  }

  async restart(): Promise<void> {
    await mustRun(this.runner, 'launchctl', ['kickstart', '-k', this.target]);
  }

  status(): Promise<CommandResult> {
    return this.runner.run('launchctl', ['print', this.target], { probe: true });
  }
}
