/**
 * `user add|remove|list`: the local SMTP users programs log in with (listen.auth). The
 * password is read from stdin, never from the command line (argv is visible to every user in
 * the process list). users.json holds scrypt hashes only; a running relay sees the change at
 * the next AUTH (it stats the file), no restart needed.
 */
import type { Command } from 'commander';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

export interface ConfigOption {
  config: string;
}

export interface AddOptions extends ConfigOption {
  account: string;
  sendAs?: string[];
  rewriteSender?: boolean;
}

export function registerUserCommand(program: Command): void {
  const user = program.command('user').description('Local SMTP users (AUTH PLAIN/LOGIN) and the account each one sends for.');
  const withConfig = (command: Command): Command =>
    command.requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile());

  withConfig(user.command('add').argument('<name>', 'user name the program logs in with'))
    .description('Add a user, or change its password and settings; the password is read from stdin (echo off at a terminal).')
    .requiredOption('-a, --account <name>', 'account the user sends for')
    .option('--send-as <address...>', "only these of the account's addresses (default: all of them)")
    .option('--rewrite-sender', "accept any sender from this user and rewrite it to the account's mailbox")
    .action((name: string, options: AddOptions) => runCommand(async () => (await import('./user-actions.js')).userAdd(name, options)));

  withConfig(user.command('remove').argument('<name>', 'user name'))
    .description('Remove a user.')
    .action((name: string, options: ConfigOption) => runCommand(async () => (await import('./user-actions.js')).userRemove(name, options)));

  withConfig(user.command('list'))
    .description('List the users, their account and addresses (never passwords).')
    .action((options: ConfigOption) => runCommand(async () => (await import('./user-actions.js')).userList(options)));
}
