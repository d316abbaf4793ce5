/**
 * Which warnings are due now: a pure function of the time, the configured accounts, their
 * recorded sign-in states, the thresholds and the warnings already sent.
 *
 * Why these conditions:
 * - A delegated refresh token lapses 90 days after it was issued or last rotated (docs/microsoft-365.md); the
 *   relay predicts that moment (`refreshTokenExpiresAt`). The daily keep-alive slides it, so a
 *   warning means the keep-alive has failed for a long time.
 * - A client secret lapses on the date Entra shows for it (at most 24 months, docs/microsoft-365.md); the config
 *   may repeat that date in `clientSecretExpiresOn`.
 * - "Sign-in required" (invalid_grant, AADSTS700082, ...) holds the account's queue: warned at once.
 *
 * "Once per threshold": each warning has a key of account, kind, threshold and the expiry it
 * refers to. A new login or a new secret changes that expiry, so keys of the old window no longer
 * match and the new window is warned again when it comes near.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AccountConfig } from '../core/config.js';
import type { SignInState } from '../core/sign-in-state.js';

const DAY_MS = 24 * 3600_000;
const HOUR_MS = 3600_000;

export type WarningKind = 'refresh-token-expiry' | 'client-secret-expiry' | 'client-certificate-expiry' | 'sign-in-required';
export type WarningLevel = 'warn' | 'error';

export interface ExpiryWarning {
  readonly account: string;
  readonly kind: WarningKind;
  /** Days before the expiry this warning stands for; 0 for "at once" (expired, sign-in required). */
  readonly threshold: number;
  readonly level: WarningLevel;
  /** Days until the expiry (negative once passed); undefined for sign-in required. */
  readonly daysLeft?: number | undefined;
  /** The expiry the warning refers to (ISO 8601), when there is one. */
  readonly expiresAt?: string | undefined;
  /** Short headline, e.g. "sage: sign-in expires in 7 days". */
  readonly summary: string;
  /** One paragraph: what happens, when, and what to do. */
  readonly text: string;
  /** The concrete next step, e.g. "run `smtp-oauth-relay login --account sage`". */
  readonly nextStep: string;
  /** Identifies this warning for "once per threshold". */
  readonly key: string;
}

/** What the warnings need from an account's configuration. */
export type WarnedAccount = Pick<AccountConfig, 'name' | 'mailbox' | 'auth'>;

export interface DueWarningsInput {
  readonly now: number;
  readonly accounts: readonly WarnedAccount[];
  readonly states: readonly SignInState[];
  readonly thresholdsDays: readonly number[];
  /** Keys already warned; anything with a `has(key)` (a Set, the alert ledger). */
  readonly sent: { has(key: string): boolean };
}

export function dueWarnings(input: DueWarningsInput): ExpiryWarning[] {
  const thresholds = [...new Set(input.thresholdsDays)].filter((days) => days > 0).sort((a, b) => a - b);
  const stateOf = new Map(input.states.map((state) => [state.account, state]));
  const warnings: ExpiryWarning[] = [];
  for (const account of input.accounts) {
    const state = stateOf.get(account.name);
    const candidates = [
      signInRequiredWarning(account, state),
      refreshWindowWarning(account, state, input.now, thresholds),
      clientSecretWarning(account, input.now, thresholds),
      clientCertificateWarning(account, input.now, thresholds),
    ];
    for (const warning of candidates) {
      if (warning === undefined || input.sent.has(warning.key)) continue;
      warnings.push(warning);
    }
  }
  return warnings;
}

function signInRequiredWarning(account: WarnedAccount, state: SignInState | undefined): ExpiryWarning | undefined {
  if (state === undefined || state.status === 'ok') return undefined;
  // One episode lasts from the last success to the next: a new login or secret changes these
  // fields, retries while held do not (they only touch lastRefreshError).
  const episode = state.refreshTokenIssuedAt ?? state.lastRefreshAt ?? 'never';
  const nextStep = signInStep(account);
  const reason =
    state.status === 'never-signed-in'
      ? 'has never signed in'
      : `needs a new sign-in${state.lastRefreshError === undefined ? '' : `: ${describeFailure(state.lastRefreshError)}`}`;
  return {
    account: account.name,
    kind: 'sign-in-required',
    threshold: 0,
    // Never signed in is where every delegated account starts: worth a warning, not an error.
    level: state.status === 'never-signed-in' ? 'warn' : 'error',
    summary: `${account.name}: sign-in required, mail is held`,
    text:
      `Account "${account.name}" (${account.mailbox}) ${reason}. ` +
      `Its messages are held in the queue (nothing is lost) until it can sign in again. To fix it, ${nextStep}.`,
    nextStep,
    key: warningKey(account.name, 'sign-in-required', 0, episode),
  };
}

function refreshWindowWarning(
  account: WarnedAccount,
  state: SignInState | undefined,
  now: number,
  thresholds: readonly number[],
): ExpiryWarning | undefined {
  // A held account is warned as "sign-in required"; its window no longer matters.
  if (account.auth.method !== 'delegated' || state?.status !== 'ok') return undefined;
  const expiresAt = parseTime(state.refreshTokenExpiresAt);
  if (expiresAt === undefined) return undefined;
  const threshold = crossedThreshold(expiresAt - now, thresholds);
  if (threshold === undefined) return undefined;
  const daysLeft = (expiresAt - now) / DAY_MS;
  const expiresIso = new Date(expiresAt).toISOString();
  const nextStep = signInStep(account);
  const keepAlive =
    state.lastRefreshError === undefined
      ? 'The keep-alive refresh has not moved it'
      : `The keep-alive refresh keeps failing (${describeFailure(state.lastRefreshError)})`;
  const expired = threshold === 0;
  return {
    account: account.name,
    kind: 'refresh-token-expiry',
    threshold,
    level: expired ? 'error' : 'warn',
    daysLeft,
    expiresAt: expiresIso,
    summary: expired
      ? `${account.name}: sign-in has expired`
      : `${account.name}: sign-in expires ${describeTimeLeft(expiresAt - now)}`,
    text:
      `The sign-in of account "${account.name}" (${account.mailbox}) ` +
      (expired ? `expired on ${formatTime(expiresIso)}` : `expires on ${formatTime(expiresIso)}, ${describeTimeLeft(expiresAt - now)}`) +
      ` (a refresh token lapses 90 days after its last use). ${keepAlive}. ` +
      `${expired ? 'Mail will be held' : 'After that mail will be held'} until someone signs in again. To fix it, ${nextStep}.`,
    nextStep,
    key: warningKey(account.name, 'refresh-token-expiry', threshold, expiresIso),
  };
}

function clientSecretWarning(account: WarnedAccount, now: number, thresholds: readonly number[]): ExpiryWarning | undefined {
  if (account.auth.method !== 'client-credentials' || account.auth.clientSecretExpiresOn === undefined) return undefined;
  const date = account.auth.clientSecretExpiresOn;
  // The config holds a date only: count from its start (UTC), so the warning comes early, not late.
  const expiresAt = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(expiresAt)) return undefined;
  const threshold = crossedThreshold(expiresAt - now, thresholds);
  if (threshold === undefined) return undefined;
  const expired = threshold === 0;
  const nextStep =
    `create a new client secret for the app registration in Microsoft Entra (App registrations > Certificates & secrets), ` +
    `store it with \`smtp-oauth-relay secret set --account ${account.name}\` and update clientSecretExpiresOn in the configuration`;
  return {
    account: account.name,
    kind: 'client-secret-expiry',
    threshold,
    level: expired ? 'error' : 'warn',
    daysLeft: (expiresAt - now) / DAY_MS,
    expiresAt: new Date(expiresAt).toISOString(),
    summary: expired
      ? `${account.name}: client secret has expired`
      : `${account.name}: client secret expires ${describeTimeLeft(expiresAt - now)}`,
    text:
      `The client secret of account "${account.name}" (${account.mailbox}) ` +
      (expired ? `expired on ${date}` : `expires on ${date}, ${describeTimeLeft(expiresAt - now)}`) +
      `. ${expired ? 'Microsoft Entra now refuses it and mail is held' : 'After that Microsoft Entra refuses it and mail will be held'}. ` +
      `To fix it, ${nextStep}.`,
    nextStep,
    key: warningKey(account.name, 'client-secret-expiry', threshold, date),
  };
}

/**
 * A certificate credential lapses at its notAfter (validTo); the date is read from the certificate
 * itself, so nothing in the config can fall out of step with it. An unreadable file is left to
 * the sign-in, which reports it (the account is held).
 */
function clientCertificateWarning(account: WarnedAccount, now: number, thresholds: readonly number[]): ExpiryWarning | undefined {
  if (account.auth.method !== 'client-credentials' || account.auth.certificateFile === undefined) return undefined;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(readFileSync(account.auth.certificateFile));
  } catch {
    return undefined;
  }
  const expiresAt = Date.parse(certificate.validTo);
  const threshold = Number.isNaN(expiresAt) ? undefined : crossedThreshold(expiresAt - now, thresholds);
  if (threshold === undefined) return undefined;
  const expired = threshold === 0;
  const expiresIso = new Date(expiresAt).toISOString();
  const thumbprint = certificate.fingerprint256.replaceAll(':', '');
  const nextStep =
    `create a new certificate, upload it to the app registration in Microsoft Entra (App registrations > Certificates & secrets), ` +
    `point certificateFile at it and store its key (privateKeyFile, or \`smtp-oauth-relay secret set --account ${account.name}\`)`;
  return {
    account: account.name,
    kind: 'client-certificate-expiry',
    threshold,
    level: expired ? 'error' : 'warn',
    daysLeft: (expiresAt - now) / DAY_MS,
    expiresAt: expiresIso,
    summary: expired
      ? `${account.name}: client certificate has expired`
      : `${account.name}: client certificate expires ${describeTimeLeft(expiresAt - now)}`,
    text:
      `The certificate of account "${account.name}" (${account.mailbox}, SHA-256 thumbprint ${thumbprint}) ` +
      (expired ? `expired on ${formatTime(expiresIso)}` : `expires on ${formatTime(expiresIso)}, ${describeTimeLeft(expiresAt - now)}`) +
      `. ${expired ? 'Microsoft Entra now refuses it and mail is held' : 'After that Microsoft Entra refuses it and mail will be held'}. ` +
      `To fix it, ${nextStep}.`,
    nextStep,
    key: warningKey(account.name, 'client-certificate-expiry', threshold, `${thumbprint}|${expiresIso}`),
  };
}

/**
 * The most urgent threshold crossed: with 14, 7 and 1 days and 5 days left, that is 7 (a relay
 * that was down at 14 days does not send the stale 14-day warning as well). 0 once expired;
 * undefined while no threshold is crossed.
 */
export function crossedThreshold(msLeft: number, ascendingThresholds: readonly number[]): number | undefined {
  if (msLeft <= 0) return 0;
  return ascendingThresholds.find((days) => msLeft <= days * DAY_MS);
}

export function warningKey(account: string, kind: WarningKind, threshold: number, refersTo: string): string {
  return `${account}|${kind}|${threshold}|${refersTo}`;
}

function signInStep(account: WarnedAccount): string {
  if (account.auth.method === 'delegated') {
    return (
      `sign in again as ${account.mailbox} with \`smtp-oauth-relay login --account ${account.name}\`` +
      ` (add --device-code on a server without a browser)`
    );
  }
  return (
    `check the app registration and its client secret in Microsoft Entra; if the secret expired or was deleted, ` +
    `create a new one and store it with \`smtp-oauth-relay secret set --account ${account.name}\``
  );
}

function describeFailure(failure: NonNullable<SignInState['lastRefreshError']>): string {
  const code = failure.aadsts === undefined ? failure.error : `${failure.error}, ${failure.aadsts}`;
  return `${failure.message} [${code}]`;
}

function describeTimeLeft(ms: number): string {
  if (ms < 36 * HOUR_MS) {
    const hours = Math.max(1, Math.round(ms / HOUR_MS));
    return `in ${hours} hour${hours === 1 ? '' : 's'}`;
  }
  return `in ${Math.round(ms / DAY_MS)} days`;
}

function formatTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

function parseTime(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : time;
}
