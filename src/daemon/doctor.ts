/**
 * `doctor`: the checks a support engineer would run, each a PASS, WARN or FAIL with a one-line
 * finding and, on failure, the administrator's next step from src/health/fixes.ts.
 *
 * Order: config, control channel, standing warnings (security), ports (doctor-ports.ts), key store, upstream TLS, then per account: token, AUTH XOAUTH2, senders;
 * last the queue (doctor-queue.ts): a held account fails the run.
 * The upstream's TLS is one check for all accounts (they share upstream.host).
 *
 * When a daemon runs: app-only accounts are checked live (a client-credentials token is
 * stateless, getting one changes nothing). Delegated accounts are NOT refreshed here: a refresh
 * rotates the refresh token (https://learn.microsoft.com/entra/identity-platform/refresh-tokens: "they replace themselves on every use"), and the running
 * daemon still holds the old one in memory, so a doctor run could break the sign-in it checks.
 * Their token check reads the state the daemon recorded, and `send-test` proves AUTH end to end.
 */
import { resolve } from 'node:path';
import {
  describeCredential,
  keyStoreWarning,
  readSignInState,
  type ClosableTokenProvider,
  type KeyStore,
} from '../auth/index.js';
import { systemClock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { AccountSnapshot } from '../core/delivery-contracts.js';
import { loadConfig } from '../core/config-load.js';
import { ConfigError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import type { SignInState } from '../core/sign-in-state.js';
import type { AccessToken } from '../core/token.js';
import type { FixContext } from '../health/fixes.js';
import { configFileWarnings, environmentWarnings } from '../health/standing-warnings.js';
import { describe, failure, probeTransport } from './doctor-probe.js';
import { ControlImpostorError, requestControl } from './control-client.js';
import { controlEndpoint } from './control-endpoint.js';
import { checkPorts } from './doctor-ports.js';
import { checkQueue } from './doctor-queue.js';
import { buildTokenProvider, needsKeyStore, openConfiguredKeyStore } from './sign-in.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** config, smtp-port, health-port, key-store, upstream-tls, token, auth, senders */
  readonly check: string;
  readonly account?: string;
  readonly status: CheckStatus;
  readonly finding: string;
  /** What to do, for a FAIL or a WARN. */
  readonly fix?: string;
}

export interface DoctorReport {
  readonly version: 1;
  /** False when any check failed. */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

export interface DoctorOptions {
  readonly configFile: string;
  /** Only this account (all when absent). */
  readonly account?: string;
  /** Environment for auth.clientSecretEnv; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** Called as each check ends, so the CLI can print while the next one runs. */
  readonly onCheck?: (result: CheckResult) => void;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const checks: CheckResult[] = [];
  const record = (result: CheckResult): void => {
    checks.push(result);
    options.onCheck?.(result);
  };
  const report = (): DoctorReport => ({ version: 1, ok: !checks.some((c) => c.status === 'fail'), checks });

  const config = checkConfig(options.configFile, record);
  if (config === undefined) return report();
  const accounts = config.accounts.filter((account) => options.account === undefined || account.name === options.account);
  if (accounts.length === 0) {
    record({ check: 'config', status: 'fail', finding: `no account named "${options.account}"`, fix: `use one of: ${config.accounts.map((a) => a.name).join(', ')}` });
    return report();
  }

  const daemon = await runningDaemon(config, record);
  await checkStanding(config, options.configFile, daemon, options.env ?? process.env, record);
  await checkPorts(config, daemon, record);
  const keyStore = await checkKeyStore(config, accounts, record);
  const upstreamOk = await checkUpstreamTls(config, record);
  for (const account of accounts) {
    await checkAccount(config, account, { daemon, keyStore, upstreamOk, env: options.env ?? process.env }, record);
  }
  for (const result of await checkQueue(config, accounts, daemon?.delivery)) record(result);
  return report();
}

type Record = (result: CheckResult) => void;

interface Daemon {
  readonly pid: number | undefined;
  readonly warnings?: readonly string[];
  /** The running scheduler's view of each account (absent from an older daemon). */
  readonly delivery?: readonly AccountSnapshot[] | undefined;
}

function checkConfig(file: string, record: Record): Config | undefined {
  try {
    const { config, file: absolute } = loadConfig(file);
    record({ check: 'config', status: 'pass', finding: `${absolute} is valid (${config.accounts.length} account${config.accounts.length === 1 ? '' : 's'})` });
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    record({ check: 'config', status: 'fail', finding: error.problems.join('; '), fix: `correct ${file} (smtp-oauth-relay config check --config ${file} lists every problem)` });
    return undefined;
  }
}

async function runningDaemon(config: Config, record: Record): Promise<Daemon | undefined> {
  const endpoint = controlEndpoint(config.dataDir);
  let response;
  try {
    response = await requestControl(endpoint, { command: 'status' }, { timeoutMs: 5_000 });
  } catch (error) {
    // A listener that cannot prove the relay's key (docs/security.md): say so, never "not running".
    if (error instanceof ControlImpostorError) record({ check: 'control', status: 'fail', finding: error.message, fix: 'stop the program that listens on the control channel, then start the relay' });
    return undefined;
  }
  if (response === undefined) return undefined;
  const result = response.ok ? (response.result as { pid?: unknown; warnings?: unknown; delivery?: { accounts?: AccountSnapshot[] } } | null) : undefined;
  const pid = result?.pid;
  const warnings = Array.isArray(result?.warnings) ? result.warnings.filter((warning): warning is string => typeof warning === 'string') : [];
  return { pid: typeof pid === 'number' ? pid : undefined, warnings, delivery: result?.delivery?.accounts };
}

/** Standing warnings (src/health/standing-warnings.ts): this environment's, the file's, and the running daemon's. */
async function checkStanding(config: Config, file: string, daemon: Daemon | undefined, env: NodeJS.ProcessEnv, record: Record): Promise<void> {
  const warnings = new Set([...environmentWarnings(env), ...(await configFileWarnings(resolve(file), config)), ...(daemon?.warnings ?? [])]);
  if (warnings.size === 0) {
    record({ check: 'security', status: 'pass', finding: 'no TLS-weakening environment variable, no inline secret, the configuration is private' });
    return;
  }
  for (const warning of warnings) record({ check: 'security', status: 'warn', finding: warning });
}

async function checkKeyStore(config: Config, accounts: readonly AccountConfig[], record: Record): Promise<KeyStore | undefined> {
  const needing = accounts.filter(needsKeyStore).map((a) => a.name);
  if (needing.length === 0) {
    record({ check: 'key-store', status: 'pass', finding: 'no account needs the key store (secrets come from the config or the environment)' });
    return undefined;
  }
  try {
    const store = await openConfiguredKeyStore(config);
    const warning = keyStoreWarning(store);
    if (warning !== undefined) record({ check: 'key-store', status: 'warn', finding: `${store.description} works`, fix: warning });
    else record({ check: 'key-store', status: 'pass', finding: `${store.description} keeps a value (accounts ${needing.join(', ')})` });
    return store;
  } catch (error) {
    // KeychainUnavailableError says why and what to do, per platform.
    record({ check: 'key-store', status: 'fail', finding: `no usable key store for ${needing.join(', ')}`, fix: (error as Error).message });
    return undefined;
  }
}

/** True when the upstream answered with STARTTLS and a trusted certificate. */
async function checkUpstreamTls(config: Config, record: Record): Promise<boolean> {
  const { host, port, minTlsVersion } = config.upstream;
  const context: FixContext = { host, port };
  try {
    await (await probeTransport(config, undefined)).verify();
    record({ check: 'upstream-tls', status: 'pass', finding: `${host}:${port} answers; STARTTLS with ${minTlsVersion} or later and a valid certificate` });
    return true;
  } catch (error) {
    record(failure('upstream-tls', undefined, `${host}:${port}: ${describe(error)}`, error, context));
    return false;
  }
}

interface AccountCheckContext {
  readonly daemon: Daemon | undefined;
  readonly keyStore: KeyStore | undefined;
  /** AUTH is not tried when the upstream-tls check already failed: it would fail the same way. */
  readonly upstreamOk: boolean;
  readonly env: NodeJS.ProcessEnv;
}

async function checkAccount(config: Config, account: AccountConfig, context: AccountCheckContext, record: Record): Promise<void> {
  const name = account.name;
  const fixContext: FixContext = {
    account: name,
    mailbox: account.mailbox,
    method: account.auth.method,
    clientId: account.auth.clientId,
    tenantId: account.auth.tenantId,
    host: config.upstream.host,
    port: config.upstream.port,
  };
  const state = account.auth.method === 'delegated' ? await readSignInState(config.dataDir, account).catch(() => undefined) : undefined;

  if (account.auth.method === 'delegated' && context.daemon !== undefined) {
    checkRecordedSignIn(account, state, fixContext, record);
    record({ check: 'auth', account: name, status: 'skip', finding: 'the running relay owns this sign-in (a refresh here would rotate its token)', fix: `smtp-oauth-relay send-test --to <address> proves AUTH through it` });
  } else if (needsKeyStore(account) && context.keyStore === undefined) {
    record({ check: 'token', account: name, status: 'fail', finding: 'cannot read the sealed tokens or secret without the key store', fix: 'fix the key-store check above' });
    record({ check: 'auth', account: name, status: 'skip', finding: 'no token' });
  } else {
    const token = await checkToken(config, account, context, fixContext, record);
    if (token === undefined) record({ check: 'auth', account: name, status: 'skip', finding: 'no token' });
    else if (account.upstream === 'graph') record({ check: 'auth', account: name, status: 'skip', finding: `sends through Microsoft Graph (${config.graph.baseUrl}): no SMTP AUTH; the token is for Graph`, fix: 'smtp-oauth-relay send-test --to <address> proves delivery' });
    else if (!context.upstreamOk) record({ check: 'auth', account: name, status: 'skip', finding: 'the upstream failed its TLS check (above)' });
    else await checkAuth(config, account, token, fixContext, record);
  }
  const latest = account.auth.method === 'delegated' ? ((await readSignInState(config.dataDir, account).catch(() => undefined)) ?? state) : undefined;
  checkSenders(account, latest, record);
}

function checkRecordedSignIn(account: AccountConfig, state: SignInState | undefined, fixContext: FixContext, record: Record): void {
  if (state?.status === 'ok') {
    record({ check: 'token', account: account.name, status: 'pass', finding: `the running relay holds a working sign-in${state.lastRefreshAt === undefined ? '' : ` (last refresh ${state.lastRefreshAt})`}` });
    return;
  }
  const text = state?.lastRefreshError === undefined ? 'never signed in' : `${state.lastRefreshError.aadsts ?? state.lastRefreshError.error}: ${state.lastRefreshError.message}`;
  record(failure('token', account.name, `sign-in required (${text})`, new Error(text), fixContext));
}

async function checkToken(config: Config, account: AccountConfig, context: AccountCheckContext, fixContext: FixContext, record: Record): Promise<AccessToken | undefined> {
  let provider: ClosableTokenProvider | undefined;
  try {
    provider = buildProvider(config, account, context);
    const token = await provider.getToken();
    const minutes = Math.round((token.expiresAt - Date.now()) / 60_000);
    record({ check: 'token', account: account.name, status: 'pass', finding: `token obtained from ${config.identity.authorityHost} with ${describeCredential(account)}, valid for ${minutes} more minutes` });
    return token;
  } catch (error) {
    record(failure('token', account.name, describe(error), error, { ...fixContext, host: new URL(config.identity.authorityHost).host, port: 443 }));
    return undefined;
  } finally {
    provider?.close();
  }
}

/** Built as SignIn.create does for the daemon, so the doctor meets the same secrets and caches. */
function buildProvider(config: Config, account: AccountConfig, context: AccountCheckContext): ClosableTokenProvider {
  return buildTokenProvider(config, account, context.keyStore, { logger: silentLogger(), clock: systemClock, env: context.env });
}

/** nodemailer's verify(): connect, EHLO, STARTTLS, AUTH, QUIT; it never sends MAIL FROM. */
async function checkAuth(config: Config, account: AccountConfig, token: AccessToken, fixContext: FixContext, record: Record): Promise<void> {
  const transport = await probeTransport(config, { user: account.mailbox, accessToken: token.token, expires: token.expiresAt });
  try {
    await transport.verify();
    record({ check: 'auth', account: account.name, status: 'pass', finding: `Exchange accepted AUTH XOAUTH2 as ${account.mailbox} (no mail sent)` });
  } catch (error) {
    record(failure('auth', account.name, `AUTH XOAUTH2 as ${account.mailbox} refused: ${describe(error)}`, error, fixContext));
  } finally {
    transport.close();
  }
}

/** Exchange lets a user send as itself; any other From needs Send As (5.7.60, docs/exchange-replies.md). */
function checkSenders(account: AccountConfig, state: SignInState | undefined, record: Record): void {
  const others = account.sendAs.filter((address) => address.toLowerCase() !== account.mailbox.toLowerCase());
  const sendAsNote = others.length === 0 ? '' : `; ${others.join(', ')} need${others.length === 1 ? 's' : ''} Send As for ${account.mailbox} (else 5.7.60): send-test --from proves it`;
  if (account.auth.method === 'client-credentials') {
    record({ check: 'senders', account: account.name, status: 'pass', finding: `app-only: the token is for ${account.mailbox}${sendAsNote}` });
    return;
  }
  const signedInAs = state?.signedInAs;
  if (signedInAs === undefined) {
    record({ check: 'senders', account: account.name, status: 'skip', finding: 'nobody signed in yet', fix: `smtp-oauth-relay login --account ${account.name}` });
  } else if (signedInAs.toLowerCase() === account.mailbox.toLowerCase()) {
    record({ check: 'senders', account: account.name, status: 'pass', finding: `signed in as the mailbox ${account.mailbox}${sendAsNote}` });
  } else {
    record({
      check: 'senders',
      account: account.name,
      status: 'warn',
      finding: `signed in as ${signedInAs}, not as the mailbox ${account.mailbox}`,
      fix:
        `this works only when ${signedInAs} has Full Access and Send As on ${account.mailbox} (a shared mailbox); ` +
        `otherwise Exchange answers 5.7.60 or 535 5.7.3: sign in as ${account.mailbox} with smtp-oauth-relay login --account ${account.name}`,
    });
  }
}
