/**
 * Linux: a systemd system unit running the relay as a dedicated system user, sandboxed
 * (see service/systemd/smtp-oauth-relay.service for each setting and why).
 */
import { posix } from 'node:path';
import { systemLocation } from '../core/default-paths.js';
import { mustRun } from './checked-run.js';
import type { CommandResult, CommandRunner, FileWriter } from './command-runner.js';
import { renderTemplate, systemdWord } from './render-template.js';
import { SERVICE_NAME, type ServiceManager, type ServicePlan } from './service-manager.js';
import { readTemplate } from './templates.js';

const LINUX_LOCATION = systemLocation({ platform: 'linux', env: {}, home: '/' });

/** /etc/smtp-oauth-relay/relay.json and /var/lib/smtp-oauth-relay (src/core/default-paths.ts). */
export const SYSTEMD_DEFAULTS = {
  config: LINUX_LOCATION.config,
  dataDir: LINUX_LOCATION.dataDir,
  account: SERVICE_NAME,
} as const;

const UNIT = `${SERVICE_NAME}.service`;

/** useradd(8) / systemd.exec(5) User=: a plain name, no quoting possible. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export function renderSystemdUnit(plan: ServicePlan): string {
  if (!USER_NAME.test(plan.account)) throw new Error(`"${plan.account}" is not a valid Linux user name for a service (lower case, digits, - and _)`);
  for (const path of [plan.node, plan.cli, plan.config, plan.dataDir]) {
    if (!posix.isAbsolute(path)) throw new Error(`a systemd unit needs absolute paths, not "${path}"`);
  }
  return renderTemplate(
    readTemplate('systemd/smtp-oauth-relay.service'),
    { NODE: plan.node, CLI: plan.cli, CONFIG: plan.config, DATA_DIR: plan.dataDir, USER: plan.account, GROUP: plan.account },
    systemdWord,
  );
}

export class SystemdManager implements ServiceManager {
  readonly definitionPath: string;

  constructor(
    private readonly runner: CommandRunner,
    private readonly files: FileWriter,
    unitDir = '/etc/systemd/system',
  ) {
    this.definitionPath = posix.join(unitDir, UNIT);
  }

  async install(plan: ServicePlan): Promise<void> {
    const unit = renderSystemdUnit(plan);
    const user = plan.account;
    const exists = await this.runner.run('getent', ['passwd', user], { probe: true });
    if (exists.code !== 0) {
      // A system user whose home is the data folder and who cannot log in.
      await mustRun(this.runner, 'useradd', ['--system', '--user-group', '--home-dir', plan.dataDir, '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    }
    // The data folder belongs to the service user alone (spool, logs, sealed secrets).
    await mustRun(this.runner, 'install', ['-d', '-m', '0700', '-o', user, '-g', user, plan.dataDir]);
    // Files a root CLI left there before (users.json, tokens/, keys/) too; links are not followed.
    await mustRun(this.runner, 'chown', ['-hR', `${user}:${user}`, plan.dataDir]);
    // The relay reads its configuration as that user; others need not read it.
    await mustRun(this.runner, 'chgrp', [user, plan.config]);
    await mustRun(this.runner, 'chmod', ['0640', plan.config]);
    await this.files.writeFile(this.definitionPath, unit, 0o644);
    await mustRun(this.runner, 'systemctl', ['daemon-reload']);
    await mustRun(this.runner, 'systemctl', ['enable', '--now', UNIT]);
  }

  async uninstall(): Promise<void> {
    await this.runner.run('systemctl', ['disable', '--now', UNIT]);
    await this.files.removeFile(this.definitionPath);
    await mustRun(this.runner, 'systemctl', ['daemon-reload']);
  }

  async start(): Promise<void> {
    await mustRun(this.runner, 'systemctl', ['start', UNIT]);
  }

  async stop(): Promise<void> {
    await mustRun(this.runner, 'systemctl', ['stop', UNIT]);
  }

  async restart(): Promise<void> {
    await mustRun(this.runner, 'systemctl', ['restart', UNIT]);
  }

  status(): Promise<CommandResult> {
    // systemctl status exits 3 when the unit is stopped: an answer, not a failure.
    return this.runner.run('systemctl', ['status', '--no-pager', UNIT], { probe: true });
  }
}
