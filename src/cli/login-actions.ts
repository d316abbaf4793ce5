/**
 * What `login` and `logout` do (login-command.ts defines them), loaded only when one of them
 * runs: the sign-in modules are not needed by `serve` or any other command (src/cli/main.ts).
 */
import { SIGN_IN_CANCELLED_EXIT, type LoginPrompt, type LoginResult } from '../auth/index.js';
import { systemClock } from '../core/clock.js';
import { loadConfig } from '../core/config-load.js';
import { silentLogger } from '../core/logger.js';
import { CREDENTIAL_PATHS, DataFolderOwner } from '../core/ownership.js';
import { requestControl } from '../daemon/control-client.js';
import { controlEndpoint } from '../daemon/control-endpoint.js';
import type { ControlRequest } from '../daemon/control-protocol.js';
import { SignIn } from '../daemon/sign-in.js';
import { currentPathContext } from './default-config.js';
import type { LoginOptions, LogoutOptions } from './login-command.js';
import { assertMayWorkHere, currentGuardFacts } from './service-guard.js';

/** A device code lives 15 minutes; a person may take most of that. */
const LOGIN_TIMEOUT_MS = 20 * 60_000;

export async function login(options: LoginOptions): Promise<number> {
  const mode = options.deviceCode === true ? 'device-code' : 'browser';
  const showPrompt = (prompt: LoginPrompt): Promise<void> => show(prompt, options.browser);
  const cancel = new AbortController();
  let runsHere = false;
  // Ctrl+C: a sign-in run here closes its loopback listener (src/auth/loopback-sign-in.ts) and
  // ends with SignInCancelledError; through the daemon, leaving closes the control connection,
  // and the daemon cancels (and logs) on its side.
  const onInterrupt = (): void => {
    if (runsHere) return cancel.abort();
    process.stderr.write('Sign-in cancelled; the relay stops waiting for it.\n');
    process.exit(SIGN_IN_CANCELLED_EXIT);
  };
  process.once('SIGINT', onInterrupt);
  try {
    const result = (await viaDaemonOrHere(
      options,
      { command: 'login', account: options.account, mode },
      (signIn) => {
        runsHere = true;
        return signIn.login(options.account, mode, showPrompt, cancel.signal);
      },
      (event) => {
        if (event.event === 'prompt') void showPrompt(event.prompt as LoginPrompt);
      },
    )) as LoginResult;
    process.stdout.write(`${result.message}\nThe sign-in lasts while the relay refreshes it; without use it would lapse on ${result.refreshTokenExpiresAt}.\n`);
    return 0;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

export async function logout(options: LogoutOptions): Promise<void> {
  const request: ControlRequest = { command: 'logout', account: options.account };
  await viaDaemonOrHere(options, request, (signIn) => signIn.logout(options.account));
  process.stdout.write(`Signed out ${options.account}; its mail waits until "smtp-oauth-relay login --account ${options.account}".\n`);
}

/**
 * Asks the running daemon, or does the work here when none runs and this account is the
 * relay's (src/cli/service-guard.ts: never into the keychain of an administrator the service cannot read).
 */
async function viaDaemonOrHere(
  options: { config: string; offline?: boolean },
  request: ControlRequest,
  here: (signIn: SignIn) => Promise<unknown>,
  onEvent?: (event: { event: string; [key: string]: unknown }) => void,
): Promise<unknown> {
  const { config } = loadConfig(options.config);
  const endpoint = controlEndpoint(config.dataDir);
  const reply = await requestControl(endpoint, request, { timeoutMs: LOGIN_TIMEOUT_MS, ...(onEvent === undefined ? {} : { onEvent }) });
  if (reply !== undefined) {
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  }
  assertMayWorkHere(config.dataDir, endpoint, options.offline === true, currentGuardFacts(currentPathContext()));
  // Files written here (tokens, keys, sign-in state) belong to the relay's user, not to root.
  const owner = await DataFolderOwner.of(config.dataDir);
  const signIn = await SignIn.create(config, { logger: silentLogger(), clock: systemClock });
  try {
    return await here(signIn);
  } finally {
    await signIn.stop();
    await owner.adopt(CREDENTIAL_PATHS);
  }
}

async function show(prompt: LoginPrompt, openBrowser: boolean): Promise<void> {
  if (prompt.kind === 'device-code') {
    process.stdout.write(`${prompt.message}\n`);
    return;
  }
  if (!openBrowser) {
    process.stdout.write(`Open this address in a browser on this machine and sign in as the mailbox:\n${prompt.url}\n`);
    return;
  }
  process.stdout.write('Opening your browser to sign in; sign in as the mailbox.\n');
  try {
    // Loaded here, not at start: every command (serve included) would carry it otherwise.
    const { default: open } = await import('open');
    await open(prompt.url);
  } catch {
    process.stdout.write(`The browser did not open. Open this address on this machine:\n${prompt.url}\n`);
  }
}
