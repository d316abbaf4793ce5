/**
 * What `user add|remove|list` do (user-command.ts defines them), loaded only when one runs
 * (src/cli/main.ts).
 */
import { basename } from 'node:path';
import { readSecret } from '../auth/index.js';
import { loadConfig } from '../core/config-load.js';
import { DataFolderOwner } from '../core/ownership.js';
import { addUser, listUsers, readUsersFile, removeUser, usersFilePath } from '../inbound/local-users.js';
import type { AddOptions, ConfigOption } from './user-command.js';

export async function userAdd(name: string, options: AddOptions): Promise<void> {
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
}

export async function userRemove(name: string, options: ConfigOption): Promise<void> {
  const { config } = loadConfig(options.config);
  const owner = await DataFolderOwner.of(config.dataDir);
  if (!(await removeUser(usersFilePath(config.dataDir), name))) throw new Error(`No user named "${name}"`);
  await owner.adopt([basename(usersFilePath(config.dataDir))]);
  process.stdout.write(`Removed user ${name}.\n`);
}

export async function userList(options: ConfigOption): Promise<void> {
  const { config } = loadConfig(options.config);
  const users = listUsers(await readUsersFile(usersFilePath(config.dataDir)));
  if (users.length === 0) process.stdout.write('No local users.\n');
  for (const entry of users) {
    const sendAs = entry.sendAs === undefined ? 'all addresses' : entry.sendAs.join(', ');
    process.stdout.write(`${entry.name}\taccount ${entry.account}\t${sendAs}${entry.rewriteSender ? '\trewrites sender' : ''}\n`);
  }
}
