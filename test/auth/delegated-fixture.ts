/**
 * Delegated accounts against the mock tenant for tests: a config with one delegated account
 * ("sage", mailbox sage@contoso.example, the mock's public client, tenant "organizations" as
 * the config defaults to), providers built by the real factory with a FileKeyStore in a temp
 * data folder, and the browser and device-code stand-ins as login prompts.
 */
import { DelegatedTokenProvider, FileKeyStore, createTokenProvider, type LoginPrompt } from '../../src/auth/index.js';
import type { Clock } from '../../src/core/clock.js';
import { configSchema, type AccountConfig, type Config, type DelegatedAuth } from '../../src/core/config.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { RefreshFailure } from '../../src/core/sign-in-state.js';
import { completeBrowserSignIn, MOCK_MAILBOX, openDeviceLoginPage, type MockTenant } from '../mock-tenant/index.js';

export type DelegatedAccount = AccountConfig & { auth: DelegatedAuth };

export function delegatedConfig(tenant: MockTenant, dataDir: string): { config: Config; account: DelegatedAccount } {
  const config = configSchema.parse(
    tenant.relayConfig(dataDir, {
      accounts: [{ name: 'sage', mailbox: MOCK_MAILBOX, auth: { method: 'delegated', clientId: tenant.publicClientId } }],
    }),
  );
  const account = config.accounts[0];
  if (account === undefined || account.auth.method !== 'delegated') throw new Error('no delegated account');
  return { config, account: { ...account, auth: account.auth } };
}

export interface ProviderHandle {
  readonly provider: DelegatedTokenProvider;
  /** Every onSignInRequired call, in order. */
  readonly signInRequired: { account: string; failure: RefreshFailure }[];
  /** Every onTokenRequest call: "ok" or the error code. */
  readonly tokenRequests: string[];
}

export function delegatedProvider(tenant: MockTenant, dataDir: string, clock: Clock, logger: Logger = silentLogger()): ProviderHandle {
  const { config, account } = delegatedConfig(tenant, dataDir);
  const signInRequired: ProviderHandle['signInRequired'] = [];
  const tokenRequests: string[] = [];
  const provider = createTokenProvider(account, config.identity, {
    logger,
    clock,
    dataDir,
    keyStore: new FileKeyStore(dataDir),
    onSignInRequired: (name, failure) => signInRequired.push({ account: name, failure }),
    onTokenRequest: (_name, outcome) => tokenRequests.push(outcome.ok ? 'ok' : outcome.error),
  });
  if (!(provider instanceof DelegatedTokenProvider)) throw new Error('expected a DelegatedTokenProvider');
  return { provider, signInRequired, tokenRequests };
}

/** What a person's browser does with the URL: the mock checks PKCE, MSAL's loopback gets the code. */
export function browserStandIn(tenant: MockTenant, seen: string[] = []): (prompt: LoginPrompt) => Promise<void> {
  return async (prompt) => {
    if (prompt.kind !== 'browser') throw new Error(`expected a browser prompt, got ${prompt.kind}`);
    seen.push(prompt.url);
    await completeBrowserSignIn(prompt.url, { caPem: tenant.caPem });
  };
}

/** What a person does with a device code: opens the page and enters it. */
export function deviceCodeStandIn(tenant: MockTenant, seen: LoginPrompt[] = []): (prompt: LoginPrompt) => void {
  return (prompt) => {
    if (prompt.kind !== 'device-code') throw new Error(`expected a device-code prompt, got ${prompt.kind}`);
    seen.push(prompt);
    void openDeviceLoginPage(prompt.verificationUri, prompt.userCode, { caPem: tenant.caPem });
  };
}
