/**
 * What `secret set|delete` do (secret-command.ts defines them), loaded only when one runs
 * (src/cli/main.ts).
 */
import { deleteClientSecret, readSecret, storeClientSecret } from '../auth/index.js';
import { loadConfig } from '../core/config-load.js';
import { CREDENTIAL_PATHS, DataFolderOwner } from '../core/ownership.js';
import { requestControl } from '../daemon/control-client.js';
import { controlEndpoint } from '../daemon/control-endpoint.js';
import { openConfiguredKeyStore } from '../daemon/sign-in.js';
import { currentPathContext } from './default-config.js';
import type { SecretOptions } from './secret-command.js';
import { assertMayWorkHere, currentGuardFacts } from './service-guard.js';

export async function setSecret(options: SecretOptions): Promise<void> {
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
}

export async function deleteSecret(options: SecretOptions): Promise<void> {
  const { config } = loadConfig(options.config);
  appOnlyAccount(config.accounts, options.account);
  const owner = await DataFolderOwner.of(config.dataDir);
  await deleteClientSecret(await openConfiguredKeyStore(config), config.dataDir, options.account);
  await owner.adopt(CREDENTIAL_PATHS);
  process.stdout.write(`Deleted the stored client secret of ${options.account}.\n`);
}

function appOnlyAccount(accounts: readonly { name: string; auth: { method: string } }[], name: string): void {
  const account = accounts.find((candidate) => candidate.name === name);
  if (account === undefined) throw new Error(`No account named "${name}" in the configuration (${accounts.map((a) => a.name).join(', ')})`);
  if (account.auth.method !== 'client-credentials') throw new Error(`Account "${name}" signs in as a person: use "smtp-oauth-relay login --account ${name}"`);
}
