/**
 * One interface for the three service managers (Windows SCM through sc.exe, systemd, launchd). Each implementation
 * writes its files and runs its commands through the injected CommandRunner and FileWriter, so
 * `--print` and the tests see exactly what it would do.
 */
import type { CommandResult } from './command-runner.js';

/** What to install: where things are and who runs the relay. All paths absolute. */
export interface ServicePlan {
  /** The Node executable the service starts (process.execPath of the installing command). */
  readonly node: string;
  /** The CLI script (dist/cli/main.js). */
  readonly cli: string;
  /** The configuration file. */
  readonly config: string;
  /** The relay's data folder (the configuration's dataDir): the only folder it writes. */
  readonly dataDir: string;
  /**
   * Who runs it. Linux: a system user (created if missing). Windows: `NT SERVICE\smtp-oauth-relay`
   * (virtual account), LocalSystem, LocalService or DOMAIN\user. macOS: the user of a system daemon.
   */
  readonly account: string;
}

export interface ServiceManager {
  /** Where the service definition lives on this machine. */
  readonly definitionPath: string;
  install(plan: ServicePlan): Promise<void>;
  /** Removes the service; the data folder (and any queued mail) stays. */
  uninstall(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** The service manager's own view (running or not), as it printed it. */
  status(): Promise<CommandResult>;
}

/** The service's name everywhere: systemd unit, Windows service id, virtual account. */
export const SERVICE_NAME = 'smtp-oauth-relay';

/** A command that failed: the message carries the command line and what it printed. */
export class ServiceCommandError extends Error {
  constructor(program: string, args: readonly string[], result: CommandResult) {
    const output = `${result.stderr}${result.stdout}`.trim();
    super(`${[program, ...args].join(' ')} exited ${result.code}${output === '' ? '' : `: ${output}`}`);
    this.name = 'ServiceCommandError';
  }
}
