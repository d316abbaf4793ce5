export { NodeFileWriter, SpawnCommandRunner, type CommandOptions, type CommandResult, type CommandRunner, type FileWriter } from './command-runner.js';
export { createServiceManager, serviceDefaults, servicePlatform, type ServicePlatform, type ServiceTarget } from './create-service-manager.js';
export { DryRun, type DryRunStep } from './dry-run.js';
export { LAUNCHD_LABEL, LaunchdManager, renderLaunchdPlist } from './launchd-manager.js';
export { currentServiceEnvironment, runServiceAction, SERVICE_ACTIONS, servicePlan, type ServiceAction, type ServiceEnvironment, type ServiceOptions } from './run-service-action.js';
export { SERVICE_NAME, ServiceCommandError, type ServiceManager, type ServicePlan } from './service-manager.js';
export { renderSystemdUnit, SYSTEMD_DEFAULTS, SystemdManager } from './systemd-manager.js';
export { renderWinswXml, WinswManager, windowsLayout } from './winsw-manager.js';
export { VIRTUAL_ACCOUNT } from './windows-account.js';
