/**
 * Where everything lives under the data folder, named once. Each part used to spell its own
 * `join(dataDir, 'tokens', ...)`; a move or a backup list now has one place to read.
 * Paths only: creating the folders (and their modes) stays with the part that writes them.
 */
import { join } from 'node:path';

/**
 * The top-level names, for callers that must join them themselves: ownership.ts hands these
 * folders over by name, and the launchd plist is always a POSIX path whatever the build host.
 */
export const DATA_FOLDER_NAMES = {
  spool: 'spool',
  tokens: 'tokens',
  secrets: 'secrets',
  keys: 'keys',
  state: 'state',
  users: 'users.json',
  tls: 'tls',
  logs: 'logs',
  run: 'run',
  delivery: 'delivery',
  audit: 'audit.log',
} as const;

export interface DataPaths {
  readonly root: string;
  /** The durable queue: tmp/, queue/, failed/, quarantine/ (src/queue/spool-folders.ts). */
  readonly spool: string;
  /** Sealed MSAL token caches, one per account. */
  readonly tokens: string;
  /** Sealed client secrets of app-only accounts. */
  readonly secrets: string;
  /** Key files when secrets.keyStore is "file". */
  readonly keys: string;
  /** Small state the relay keeps across restarts. */
  readonly state: string;
  /** What is known about each account's sign-in. */
  readonly signInState: string;
  /** Warnings already sent (health/alert-ledger.ts). */
  readonly alerts: string;
  /** Local SMTP users. */
  readonly users: string;
  /** The generated local TLS certificate and key. */
  readonly tls: string;
  /** JSON logs (relay.log) when log.file is on. */
  readonly logs: string;
  /** The control channel's socket and key. */
  readonly run: string;
  /** The pacing window kept across restarts. */
  readonly pacing: string;
  /** One line per queue delete and retry. */
  readonly audit: string;
  tokenCache(account: string): string;
  clientSecret(account: string): string;
  signInStateOf(account: string): string;
}

export function dataPaths(dataDir: string): DataPaths {
  const names = DATA_FOLDER_NAMES;
  const state = join(dataDir, names.state);
  const signInState = join(state, 'sign-in');
  const tokens = join(dataDir, names.tokens);
  const secrets = join(dataDir, names.secrets);
  return {
    root: dataDir,
    spool: join(dataDir, names.spool),
    tokens,
    secrets,
    keys: join(dataDir, names.keys),
    state,
    signInState,
    alerts: join(state, 'alerts.json'),
    users: join(dataDir, names.users),
    tls: join(dataDir, names.tls),
    logs: join(dataDir, names.logs),
    run: join(dataDir, names.run),
    pacing: join(dataDir, names.delivery, 'pacing.json'),
    audit: join(dataDir, names.audit),
    tokenCache: (account) => join(tokens, `${account}.msal.sealed`),
    clientSecret: (account) => join(secrets, `${account}.client-secret.sealed`),
    signInStateOf: (account) => join(signInState, `${account}.json`),
  };
}
