/**
 * `service install|uninstall|start|stop|restart|status [--print]`: the relay as a Windows service
 * (the native host, registered by sc.exe), a systemd unit or a launchd job. Run it as Administrator / root (a macOS LaunchAgent:
 * as the user). `--print` shows the files and commands and changes nothing.
 */
import type { Command } from 'commander';
import type { ServiceAction, ServiceOptions } from '../service/index.js';
import { runCommand } from './run-command.js';

/** One per action, in SERVICE_ACTIONS' order; the type makes sure none is missing. */
const DESCRIPTIONS: Record<ServiceAction, string> = {
  install: 'Install the service (start at boot, restart on failure) and start it.',
  uninstall: 'Stop and remove the service; the data folder and any queued mail stay.',
  start: 'Start the service.',
  stop: 'Stop the service (queued mail stays queued).',
  restart: 'Restart the service.',
  status: "Show the service manager's view (for the relay's own view: smtp-oauth-relay status).",
};

export function registerServiceCommand(program: Command): void {
  const service = program.command('service').description('Run the relay as a Windows service, a systemd unit or a launchd job.');
  // The actions come from the descriptions: src/service is loaded only when an action runs (src/cli/main.ts).
  for (const action of Object.keys(DESCRIPTIONS) as ServiceAction[]) {
    const command = service
      .command(action)
      .description(DESCRIPTIONS[action])
      .option('--system', 'macOS: a LaunchDaemon at boot (with --account) instead of your LaunchAgent')
      .option('--print', 'show the files and commands, change nothing');
    if (action === 'install') {
      command
        .option('-c, --config <file>', 'configuration file (default: the platform folder, see README)', process.env.SMTP_OAUTH_RELAY_CONFIG)
        .option('--account <name>', 'who runs it: Linux user, Windows account (default NT SERVICE\\smtp-oauth-relay; LocalService or a gMSA DOMAIN\\name$), macOS daemon user')
        .option('--data-dir <dir>', "the relay's data folder (default: the configuration's dataDir)");
    }
    command.action((options: ServiceOptions) =>
      runCommand(async () => {
        const { currentServiceEnvironment, runServiceAction, servicePlatform } = await import('../service/index.js');
        const target = { platform: servicePlatform(), system: options.system === true, env: process.env };
        return runServiceAction(action, options, currentServiceEnvironment(target, (text) => process.stdout.write(text)));
      }),
    );
  }
}
