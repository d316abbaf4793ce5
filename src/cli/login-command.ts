/**
 * `login` and `logout` of a delegated account. With a daemon running, the daemon signs in (so the
 * tokens land in its key store, whichever OS account it runs as) and this command only shows the
 * prompt: it opens the browser, or prints the address (--no-browser) or the device code.
 * Without a daemon, the sign-in runs here, against the same data folder and key store.
 * The definitions are here; what the commands do is in login-actions.ts, loaded when one runs.
 */
import type { Command } from 'commander';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

export interface LoginOptions {
  config: string;
  account: string;
  deviceCode?: boolean;
  browser: boolean;
  offline?: boolean;
}

export interface LogoutOptions {
  config: string;
  account: string;
  offline?: boolean;
}

const OFFLINE_HELP = 'when no relay runs, sign in here even if a service is installed (only when it runs as this same account)';

export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('Sign in once as the mailbox of a delegated account; the relay keeps the sign-in alive.')
    .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
    .requiredOption('-a, --account <name>', 'account name from the configuration')
    .option('--device-code', 'sign in with a code on another device (for a server without a browser)')
    .option('--no-browser', 'print the sign-in address instead of opening a browser')
    .option('--offline', OFFLINE_HELP)
    .action((options: LoginOptions) => runCommand(async () => (await import('./login-actions.js')).login(options)));

  program
    .command('logout')
    .description('Remove the tokens of a delegated account; its mail waits until the next login.')
    .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
    .requiredOption('-a, --account <name>', 'account name from the configuration')
    .option('--offline', OFFLINE_HELP.replace('sign in', 'sign out'))
    .action((options: LogoutOptions) => runCommand(async () => (await import('./login-actions.js')).logout(options)));
}
