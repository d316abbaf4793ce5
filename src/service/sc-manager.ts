/**
 * Windows: the service is the small native host smtp-oauth-relay-service.exe (windows/service-host.c),
 * registered with the Service Control Manager by sc.exe and started by net.exe (which waits for
 * the service to run or stop). The host starts the relay, stops it gracefully, restarts it after a
 * crash, and reports failures to the SCM and the Event Log (docs/windows-service.md).
 *
 * The MSI does the same at install time (windows/smtp-oauth-relay.wxs); this manager is for an
 * administrator who unpacked the release folder, or who changes the account.
 * sc.exe: "sc.exe create", "sc.exe failure", Microsoft Learn
 * (https://learn.microsoft.com/windows-server/administration/windows-commands/sc-create).
 */
import { win32 } from 'node:path';
import { mustRun } from './checked-run.js';
import type { CommandResult, CommandRunner } from './command-runner.js';
import { SERVICE_NAME, ServiceCommandError, type ServiceManager, type ServicePlan } from './service-manager.js';
import { VIRTUAL_ACCOUNT, windowsAccount } from './windows-account.js';
import { windowsCommandLine } from './windows-command-line.js';

export const HOST_EXE = 'smtp-oauth-relay-service.exe';
export const RELAY_EXE = 'smtp-oauth-relay.exe';
export const EVENT_LOG_KEY = `HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\${SERVICE_NAME}`;
/** Where the installer writes the configuration and data paths the host and the CLI read. */
export const SETTINGS_KEY = `HKLM\\SOFTWARE\\${SERVICE_NAME}`;
const DESCRIPTION = 'Accepts plain SMTP from legacy programs (Sage, printers) on 127.0.0.1 and relays it to Microsoft 365 with OAuth.';
/** Restart after 10 s, 30 s, then every 2 min; the failure count resets after a day (seconds / ms, as sc takes them). */
export const RECOVERY = { resetSeconds: 86_400, restartDelaysMs: [10_000, 30_000, 120_000] } as const;

export interface WindowsLayout {
  /** %ProgramData%\smtp-oauth-relay: the configuration and, by default, the data folder. */
  readonly serviceDir: string;
}

export function windowsLayout(env: NodeJS.ProcessEnv = process.env): WindowsLayout {
  const programData = env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData';
  return { serviceDir: win32.join(programData, SERVICE_NAME) };
}

export function windowsDefaults(layout: WindowsLayout): { config: string; dataDir: string; account: string } {
  return { config: win32.join(layout.serviceDir, 'relay.json'), dataDir: win32.join(layout.serviceDir, 'data'), account: VIRTUAL_ACCOUNT };
}

/**
 * The host and its command line. The release runs as one executable (plan.node is
 * smtp-oauth-relay.exe, the host beside it starts it by default); a Node install names node.exe and
 * the CLI script after "--", and needs the host copied to <package>\windows\ (docs/windows-service.md).
 */
export function hostCommand(plan: ServicePlan): { host: string; binPath: string } {
  const singleExecutable = plan.cli === '' || win32.basename(plan.node).toLowerCase() === RELAY_EXE || plan.cli.toLowerCase() === plan.node.toLowerCase();
  const host = singleExecutable ? win32.join(win32.dirname(plan.node), HOST_EXE) : win32.resolve(win32.dirname(plan.cli), '..', '..', 'windows', HOST_EXE);
  const words = [host, '--config', plan.config, '--data-dir', plan.dataDir, ...(singleExecutable ? [] : ['--', plan.node, plan.cli])];
  return { host, binPath: windowsCommandLine(words) };
}

const POLL_MS = 1_000;
/** The host waits up to 120 s for the relay to log "relay started", then reports RUNNING anyway. */
const START_WAIT_MS = 150_000;
/** The host's stop bound (45 s) plus its TerminateProcess and margin. */
const STOP_WAIT_MS = 60_000;

export type ServiceStateName = 'STOPPED' | 'START_PENDING' | 'STOP_PENDING' | 'RUNNING' | 'CONTINUE_PENDING' | 'PAUSE_PENDING' | 'PAUSED';

export interface ServiceState {
  readonly name: ServiceStateName;
  readonly win32ExitCode: number;
  readonly serviceExitCode: number;
}

/** Reads `sc query`'s "STATE : 4 RUNNING", "WIN32_EXIT_CODE : 1066 (0x42a)", "SERVICE_EXIT_CODE : 78 (0x4e)". */
export function parseServiceState(output: string): ServiceState | undefined {
  const name = /STATE\s*:\s*\d+\s+([A-Z_]+)/.exec(output)?.[1];
  if (name === undefined) return undefined;
  const number = (field: string): number => Number(new RegExp(`${field}\\s*:\\s*(\\d+)`).exec(output)?.[1] ?? 0);
  return { name: name as ServiceStateName, win32ExitCode: number('WIN32_EXIT_CODE'), serviceExitCode: number('SERVICE_EXIT_CODE') };
}

/** sc.exe, net.exe and reg.exe fail with "Access is denied" (error 5) in a prompt that is not elevated. */
export class ElevationRequiredError extends Error {
  constructor(cause: ServiceCommandError) {
    super(`${cause.message}\nThis needs an elevated prompt: open PowerShell with "Run as administrator" and run the command again.`);
    this.name = 'ElevationRequiredError';
  }
}

export class ScManager implements ServiceManager {
  readonly definitionPath = `HKLM\\SYSTEM\\CurrentControlSet\\Services\\${SERVICE_NAME}`;

  /**
   * Nothing is written to disk: the host and the relay belong to the release folder.
   * @param sleep between two looks at a pending service (injected so the tests do not wait).
   */
  constructor(
    private readonly runner: CommandRunner,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  async install(plan: ServicePlan): Promise<void> {
    const account = windowsAccount(plan.account);
    const { host, binPath } = hostCommand(plan);
    const exists = await this.runner.run('sc.exe', ['query', SERVICE_NAME], { probe: true });
    // Installing again updates the registration (a new account or path) instead of failing.
    const verb = exists.code === 0 ? 'config' : 'create';
    await this.sc([verb, SERVICE_NAME, 'binPath=', binPath, 'start=', 'auto', 'obj=', account.scName, 'DisplayName=', 'SMTP OAuth relay']);
    await this.sc(['description', SERVICE_NAME, DESCRIPTION]);
    const actions = RECOVERY.restartDelaysMs.map((delay) => `restart/${delay}`).join('/');
    await this.sc(['failure', SERVICE_NAME, 'reset=', String(RECOVERY.resetSeconds), 'actions=', actions]);
    // The Event Log source: the host exe holds the message table (windows/service-messages.mc).
    await this.reg(['add', EVENT_LOG_KEY, '/v', 'EventMessageFile', '/t', 'REG_EXPAND_SZ', '/d', host, '/f']);
    await this.reg(['add', EVENT_LOG_KEY, '/v', 'TypesSupported', '/t', 'REG_DWORD', '/d', '7', '/f']);
    await this.reg(['add', SETTINGS_KEY, '/v', 'ConfigFile', '/t', 'REG_SZ', '/d', plan.config, '/f']);
    await this.reg(['add', SETTINGS_KEY, '/v', 'DataDir', '/t', 'REG_SZ', '/d', plan.dataDir, '/f']);
    // The host creates %ProgramData%\smtp-oauth-relay and the data folder with their final ACL
    // (or replaces the ACL of folders already there) before the relay writes anything, and gives
    // the service its own SID type "unrestricted" (what a virtual account needs; Wine's sc.exe
    // lacks `sc sidtype`, so the host does it through ChangeServiceConfig2W).
    const prepare = ['prepare', '--data-dir', plan.dataDir, ...(account.virtual ? [] : ['--account', account.scName])];
    await this.checked(host, prepare);
    await this.start();
  }

  /** Stops and removes the service and its Event Log source; the data folder and queued mail stay. */
  async uninstall(): Promise<void> {
    await this.runner.run('net.exe', ['stop', SERVICE_NAME]);
    await this.sc(['delete', SERVICE_NAME]);
    await this.runner.run('reg.exe', ['delete', EVENT_LOG_KEY, '/f']);
    await this.runner.run('reg.exe', ['delete', SETTINGS_KEY, '/f']);
  }

  /**
   * net start, then the wait for the relay to listen (the host reports RUNNING only then): a start
   * that ends STOPPED is an error with the service's exit code (78: the configuration), not a success.
   */
  async start(): Promise<void> {
    await this.net(['start', SERVICE_NAME]);
    const state = await this.waitWhile(['START_PENDING'], START_WAIT_MS);
    if (state?.name === 'STOPPED') {
      throw new Error(`${SERVICE_NAME} did not start (service exit code ${state.serviceExitCode}, Windows exit code ${state.win32ExitCode}): the reason is in the Event Log (Application, source ${SERVICE_NAME}) and in the data folder's logs\\service.log`);
    }
  }

  /** net stop, then the wait while the host stops the relay gracefully (STOP_PENDING with wait hints). */
  async stop(): Promise<void> {
    await this.net(['stop', SERVICE_NAME]);
    await this.waitWhile(['STOP_PENDING', 'RUNNING'], STOP_WAIT_MS);
  }

  async restart(): Promise<void> {
    const state = parseServiceState((await this.status()).stdout);
    if (state?.name === 'RUNNING' || state?.name === 'START_PENDING') await this.stop();
    await this.start();
  }

  /** sc query prints STATE: 4 RUNNING (or STOPPED, with the exit codes); 1060 when not installed. */
  status(): Promise<CommandResult> {
    return this.runner.run('sc.exe', ['query', SERVICE_NAME], { probe: true });
  }

  /**
   * Polls sc query while the service is in one of `states`. net.exe waits by itself on Windows,
   * Wine's does not: one loop serves both. Returns the last state seen (undefined: none parsed).
   */
  private async waitWhile(states: readonly ServiceStateName[], timeoutMs: number): Promise<ServiceState | undefined> {
    for (let waited = 0; ; waited += POLL_MS) {
      const state = parseServiceState((await this.status()).stdout);
      if (state === undefined || !states.includes(state.name) || waited >= timeoutMs) return state;
      await this.sleep(POLL_MS);
    }
  }

  private sc(args: readonly string[]): Promise<CommandResult> {
    return this.checked('sc.exe', args);
  }

  private net(args: readonly string[]): Promise<CommandResult> {
    return this.checked('net.exe', args);
  }

  private reg(args: readonly string[]): Promise<CommandResult> {
    return this.checked('reg.exe', args);
  }

  private async checked(program: string, args: readonly string[]): Promise<CommandResult> {
    try {
      return await mustRun(this.runner, program, args);
    } catch (error) {
      if (error instanceof ServiceCommandError && isAccessDenied(error.message)) throw new ElevationRequiredError(error);
      throw error;
    }
  }
}

/** sc: "[SC] OpenSCManager FAILED 5:  Access is denied."; reg and net: "Access is denied." / "System error 5". */
function isAccessDenied(message: string): boolean {
  return /access is denied|FAILED 5:|System error 5 /i.test(message);
}
