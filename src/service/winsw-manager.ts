/**
 * Windows: the service is WinSW (the wrapper node-windows ships), copied as
 * %ProgramData%\smtp-oauth-relay\smtp-oauth-relay.exe beside its smtp-oauth-relay.xml. WinSW
 * reads the XML with its own name, registers the service and restarts the relay on failure.
 */
import { createRequire } from 'node:module';
import { win32 } from 'node:path';
import { mustRun } from './checked-run.js';
import type { CommandResult, CommandRunner, FileWriter } from './command-runner.js';
import { renderTemplate, xmlEscape } from './render-template.js';
import { SERVICE_NAME, type ServiceManager, type ServicePlan } from './service-manager.js';
import { readTemplate } from './templates.js';
import { VIRTUAL_ACCOUNT, windowsAccount } from './windows-account.js';

export interface WindowsLayout {
  /** %ProgramData%\smtp-oauth-relay: WinSW, its XML, logs, and by default the data and configuration. */
  readonly serviceDir: string;
  /** winsw.exe to copy (node-windows' bin/winsw/winsw.exe). */
  readonly winswExe: string;
}

export function windowsLayout(env: NodeJS.ProcessEnv = process.env, winswExe = bundledWinsw()): WindowsLayout {
  const programData = env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData';
  return { serviceDir: win32.join(programData, SERVICE_NAME), winswExe };
}

export function windowsDefaults(layout: WindowsLayout): { config: string; dataDir: string; account: string } {
  return { config: win32.join(layout.serviceDir, 'relay.json'), dataDir: win32.join(layout.serviceDir, 'data'), account: VIRTUAL_ACCOUNT };
}

/** node-windows is an optional dependency: missing on other platforms, so looked up lazily. */
export function bundledWinsw(): string {
  try {
    const require = createRequire(import.meta.url);
    return win32.normalize(require.resolve('node-windows/bin/winsw/winsw.exe'));
  } catch {
    return 'node_modules\\node-windows\\bin\\winsw\\winsw.exe (not installed: npm install node-windows)';
  }
}

export function renderWinswXml(plan: ServicePlan, layout: WindowsLayout): string {
  const account = windowsAccount(plan.account, xmlEscape);
  return renderTemplate(
    readTemplate('windows/smtp-oauth-relay.xml'),
    { NODE: plan.node, CLI: plan.cli, CONFIG: plan.config, SERVICE_DIR: layout.serviceDir, LOG_DIR: win32.join(layout.serviceDir, 'logs') },
    xmlEscape,
    { SERVICE_ACCOUNT: account.serviceAccountXml },
  );
}

export class WinswManager implements ServiceManager {
  readonly definitionPath: string;
  private readonly wrapper: string;

  constructor(
    private readonly runner: CommandRunner,
    private readonly files: FileWriter,
    private readonly layout: WindowsLayout,
  ) {
    this.definitionPath = win32.join(layout.serviceDir, `${SERVICE_NAME}.xml`);
    this.wrapper = win32.join(layout.serviceDir, `${SERVICE_NAME}.exe`);
  }

  async install(plan: ServicePlan): Promise<void> {
    const xml = renderWinswXml(plan, this.layout);
    const account = windowsAccount(plan.account, xmlEscape);
    await this.files.makeDirectory(win32.join(this.layout.serviceDir, 'logs'));
    await this.files.copyFile(this.layout.winswExe, this.wrapper);
    await this.files.copyFile(`${this.layout.winswExe}.config`, `${this.wrapper}.config`);
    await this.files.writeFile(this.definitionPath, xml, 0o644);
    // `install /p`: WinSW asks for the user name and password on the console, so the password is
    // never on a command line (visible to other processes) nor in the XML file.
    await mustRun(this.runner, this.wrapper, account.needsPassword ? ['install', '/p'] : ['install'], { interactive: account.needsPassword });
    // Only now does a virtual account exist to be granted. Replace inherited rights (Users can
    // read %ProgramData% by default) with: the service account, Administrators, SYSTEM.
    for (const folder of this.restrictedFolders(plan)) {
      await mustRun(this.runner, 'icacls', [folder, '/inheritance:r', '/grant:r', `${account.aclName}:(OI)(CI)F`, 'Administrators:(OI)(CI)F', 'SYSTEM:(OI)(CI)F']);
    }
    await mustRun(this.runner, this.wrapper, ['start']);
  }

  async uninstall(): Promise<void> {
    await this.runner.run(this.wrapper, ['stop']);
    await mustRun(this.runner, this.wrapper, ['uninstall']);
    await this.files.removeFile(this.wrapper);
    await this.files.removeFile(`${this.wrapper}.config`);
    await this.files.removeFile(this.definitionPath);
  }

  async start(): Promise<void> {
    await mustRun(this.runner, this.wrapper, ['start']);
  }

  async stop(): Promise<void> {
    await mustRun(this.runner, this.wrapper, ['stop']);
  }

  async restart(): Promise<void> {
    await mustRun(this.runner, this.wrapper, ['restart']);
  }

  /** WinSW prints Started, Stopped or NonExistent. */
  status(): Promise<CommandResult> {
    return this.runner.run(this.wrapper, ['status'], { probe: true });
  }

  /** The service folder, and the data folder too when the configuration puts it elsewhere. */
  private restrictedFolders(plan: ServicePlan): string[] {
    const inside = (folder: string): boolean => {
      const relative = win32.relative(this.layout.serviceDir, folder);
      return !relative.startsWith('..') && !win32.isAbsolute(relative); // another drive gives an absolute path
    };
    return inside(plan.dataDir) ? [this.layout.serviceDir] : [this.layout.serviceDir, plan.dataDir];
  }
}
