/**
 * `secret set|delete --account NAME`: the client secret of an app-only account, read from stdin
 * (never from the command line, where other users could read it in the process list) and sealed
 * under the key store. With a daemon running, the daemon stores it in its own key store (it may
 * run as another OS account) and resumes the account at once.
 */
import type { Command } from 'commander';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

export interface SecretOptions {
  config: string;
  account: string;
  offline?: boolean;
}

export function registerSecretCommands(program: Command): void {
  const secret = program.command('secret').description('Keep the client secret of an app-only account under the OS keychain.');
  const withAccount = (command: Command): Command =>
    command
      .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
      .requiredOption('-a, --account <name>', 'account name from the configuration');

  withAccount(secret.command('set').description('Read the client secret from stdin and seal it (echo is off at a terminal).'))
    .option('--offline', 'when no relay runs, store it here even if a service is installed (only when it runs as this same account)')
    .action((options: SecretOptions) => runCommand(async () => (await import('./secret-actions.js')).setSecret(options)));

  withAccount(secret.command('delete').description('Remove the sealed client secret and its key.')).action((options: SecretOptions) =>
    runCommand(async () => (await import('./secret-actions.js')).deleteSecret(options)),
  );
}
