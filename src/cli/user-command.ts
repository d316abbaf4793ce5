/**
 * `user add|remove|list`: the local SMTP users programs log in with (listen.auth). The
 * password is read from stdin, never from the command line (argv is visible to every user in
 * the process list). users.json holds scrypt hashes only; a running relay sees the change at
 * the next AUTH (it stats the file), no restart needed.
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { readSecret } from '../auth/index.js';
import { loadConfig } from '../core/config-load.js';
import { DataFolderOwner } from '../core/ownership.js';
import { addUser, listUsers, readUsersFile, removeUser, usersFilePath } from '../inbound/local-users.js';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

interface ConfigOption {
  config: string;
}

interface AddOptions extends ConfigOption {
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
    .action((name: string, options: AddOptions) =>
      runCommand(async () => {
        const { config } = loadConfig(options.config);
        const account = config.accounts.find((candidate) => candidate.name === options.account);
        if (account === undefined) {
          throw new Error(`No account named "${options.account}" in the configuration (${config.accounts.map((a) => a.name).join(', ')})`);
        }
        const allowed = new Set([account.mailbox, ...account.sendAs].map((address) => address.toLowerCase()));
        const foreign = (options.sendAs ?? []).filter((address) => !allowed.has(address.toLowerCase()));
        if (foreign.length > 0) throw new Error(`--send-as ${foreign.join(', ')}: not an address of account "${account.name}" (mailbox or sendAs)`);
        const owner = await DataFolderOwner.of(config.dataDir);
        const password = await readSecret({ prompt: { text: `Password for ${name} (not shown): `, output: process.stderr } });
        await addUser(usersFilePath(config.dataDir), name, password, {
          account: account.name,
          sendAs: options.sendAs,
          rewriteSender: options.rewriteSender === true,
        });
        await owner.adopt([basename(usersFilePath(config.dataDir))]);
        process.stdout.write(`User ${name} sends for ${account.name}.\n`);
      }),
    );

  withConfig(user.command('remove').argument('<name>', 'user name'))
    .description('Remove a user.')
    .action((name: string, options: ConfigOption) =>
      runCommand(async () => {
        const { config } = loadConfig(options.config);
        const owner = await DataFolderOwner.of(config.dataDir);
        if (!(await removeUser(usersFilePath(config.dataDir), name))) throw new Error(`No user named "${name}"`);
        await owner.adopt([basename(usersFilePath(config.dataDir))]);
        process.stdout.write(`Removed user ${name}.\n`);
      }),
    );

  withConfig(user.command('list'))
    .description('List the users, their account and addresses (never passwords).')
    .action((options: ConfigOption) =>
      runCommand(async () => {
        const { config } = loadConfig(options.config);
        const users = listUsers(await readUsersFile(usersFilePath(config.dataDir)));
        if (users.length === 0) process.stdout.write('No local users.\n');
        for (const entry of users) {
          const sendAs = entry.sendAs === undefined ? 'all addresses' : entry.sendAs.join(', ');
          process.stdout.write(`${entry.name}\taccount ${entry.account}\t${sendAs}${entry.rewriteSender ? '\trewrites sender' : ''}\n`);
        }
      }),
    );
}
