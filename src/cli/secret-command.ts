/**
 * `secret set|delete --account NAME`: the client secret of an app-only account, read from stdin
 * (never from the command line, where other users could read it in the process list) and sealed
 * under the key store. With a daemon running, the daemon stores it in its own key store (it may
 * run as another OS account) and resumes the account at once.
 */
import type { Command } from 'commander';
import { deleteClientSecret, readSecret, storeClientSecret } from '../auth/index.js';
import { loadConfig } from '../core/config-load.js';
import { CREDENTIAL_PATHS, DataFolderOwner } from '../core/ownership.js';
import { requestControl } from '../daemon/control-client.js';
import { controlEndpoint } from '../daemon/control-endpoint.js';
import { openConfiguredKeyStore } from '../daemon/sign-in.js';
import { currentPathContext, defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';
import { assertMayWorkHere, currentGuardFacts } from './service-guard.js';

interface SecretOptions {
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
    .action((options: SecretOptions) =>
      runCommand(async () => {
        const { config } = loadConfig(options.config);
        appOnlyAccount(config.accounts, options.account);
        const endpoint = controlEndpoint(config.dataDir);
        const guard = currentGuardFacts(currentPathContext());
        // Refuse before the secret is typed when it could not be stored anyway.
        if ((await requestControl(endpoint, { command: 'ping' })) === undefined) {
          assertMayWorkHere(config.dataDir, endpoint, options.offline === true, guard);
        }
        const value = await readSecret({ prompt: { text: `Client secret for ${options.account} (not shown): `, output: process.stderr } });
        const reply = await requestControl(endpoint, { command: 'secret.set', account: options.account, secret: value });
        if (reply !== undefined && !reply.ok) throw new Error(reply.error);
        if (reply === undefined) {
          assertMayWorkHere(config.dataDir, endpoint, options.offline === true, guard);
          const owner = await DataFolderOwner.of(config.dataDir);
          await storeClientSecret(await openConfiguredKeyStore(config), config.dataDir, options.account, value);
          await owner.adopt(CREDENTIAL_PATHS);
        }
        process.stdout.write(
          reply === undefined
            ? `Stored the client secret of ${options.account}; the relay uses it when it next starts.\n`
            : `Stored the client secret of ${options.account} in the running relay's key store; delivery resumes.\n`,
        );
      }),
  );

  withAccount(secret.command('delete').description('Remove the sealed client secret and its key.')).action((options: SecretOptions) =>
    runCommand(async () => {
      const { config } = loadConfig(options.config);
      appOnlyAccount(config.accounts, options.account);
      const owner = await DataFolderOwner.of(config.dataDir);
      await deleteClientSecret(await openConfiguredKeyStore(config), config.dataDir, options.account);
      await owner.adopt(CREDENTIAL_PATHS);
      process.stdout.write(`Deleted the stored client secret of ${options.account}.\n`);
    }),
  );
}

function appOnlyAccount(accounts: readonly { name: string; auth: { method: string } }[], name: string): void {
  const account = accounts.find((candidate) => candidate.name === name);
  if (account === undefined) throw new Error(`No account named "${name}" in the configuration (${accounts.map((a) => a.name).join(', ')})`);
  if (account.auth.method !== 'client-credentials') throw new Error(`Account "${name}" signs in as a person: use "smtp-oauth-relay login --account ${name}"`);
}
