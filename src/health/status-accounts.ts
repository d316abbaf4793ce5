/**
 * One account in the `status` report, from what the running daemon's state machine says
 * (src/delivery/account-states.ts: what is happening, since when, what happens next and when)
 * and the catalogue's fix for the condition behind it (src/core/conditions): one next step,
 * no contradictions (a dead sign-in or secret shows no "days left"), no repeated sentences.
 */
import { classify, conditionById, fixFor, type Condition, type FixContext } from '../core/conditions/index.js';
import type { AccountState } from '../core/delivery-contracts.js';
import type { SignInState } from '../core/sign-in-state.js';
import type { AccountReport, LiveStatus, StatusAccount, StatusProblem, StatusReportInput } from './status-report.js';

const DAY_MS = 24 * 3600_000;
const MINUTE_MS = 60_000;
/** When no configuration says otherwise (delivery.upstreamOutageWarningMinutes). */
const DEFAULT_OUTAGE_WARNING_MINUTES = 5;

type LiveAccount = LiveStatus['delivery']['accounts'][number];

/** Conditions after which the client secret is dead, whatever its configured expiry date says. */
const DEAD_SECRET = new Set(['client-secret-invalid']);

export function reportAccount(account: StatusAccount, input: StatusReportInput, problems: StatusProblem[]): AccountReport {
  const { now } = input;
  const recorded = input.signInStates?.find((candidate) => candidate.account === account.name);
  const live = input.daemon?.delivery.accounts.find((candidate) => candidate.account === account.name);
  const keepAlive = input.daemon?.signIn?.find((candidate) => candidate.account === account.name)?.keepAlive;
  const auth = account.auth;
  const condition = conditionById(live?.condition) ?? conditionById(live?.lastError?.condition);

  const found: StatusProblem[] = [];
  const holdKind = holdProblem(account, input, recorded, live, found);
  const deadSignIn = holdKind === 'sign-in-required';
  const deadSecret = DEAD_SECRET.has(live?.condition ?? '') || DEAD_SECRET.has(recorded?.lastRefreshError?.aadsts === undefined ? '' : conditionOfAadsts(recorded.lastRefreshError.aadsts));

  const refreshExpiresAt = auth.method === 'delegated' && !deadSignIn ? parseTime(recorded?.refreshTokenExpiresAt) : undefined;
  // A date only: count from its start (UTC), as the alerts do, so we warn early rather than late.
  const secretExpiresAt = auth.method === 'client-credentials' && auth.clientSecretExpiresOn !== undefined && !deadSecret ? parseTime(`${auth.clientSecretExpiresOn}T00:00:00Z`) : undefined;
  const maxThresholdDays = Math.max(0, ...input.config.alerts.thresholdsDays);
  if (refreshExpiresAt !== undefined) {
    found.push(...expiryProblem(account.name, 'sign-in (refresh-token window)', refreshExpiresAt, now, maxThresholdDays, `run \`smtp-oauth-relay login --account ${account.name}\` and check why the keep-alive refresh fails`));
  }
  if (secretExpiresAt !== undefined) {
    found.push(...expiryProblem(account.name, 'client secret', secretExpiresAt, now, maxThresholdDays, `create a new client secret in Entra, store it with \`smtp-oauth-relay secret set --account ${account.name}\` and update clientSecretExpiresOn`));
  }
  if (live !== undefined) found.push(...pauseProblems(account, live, condition, input));
  if (auth.method === 'delegated' && recorded?.mailboxMatches === false) {
    found.push({
      level: 'warning',
      account: account.name,
      text: `${account.name}: signed in as ${recorded.signedInAs ?? 'another user'}, not as the mailbox ${account.mailbox}; Exchange may refuse to send as it.`,
      nextStep: `run \`smtp-oauth-relay login --account ${account.name}\` and sign in as ${account.mailbox}`,
    });
  }
  problems.push(...found);

  const lastErrorCondition = conditionById(live?.lastError?.condition);
  return {
    name: account.name,
    method: auth.method,
    mailbox: account.mailbox,
    state: holdKind ?? (found.some((p) => p.level === 'critical') ? 'critical' : found.length > 0 ? 'warning' : 'ok'),
    ...defined('signedInAs', recorded?.signedInAs),
    ...defined('mailboxMatches', recorded?.mailboxMatches),
    ...defined('accessTokenExpiresAt', deadSignIn ? undefined : recorded?.accessTokenExpiresAt),
    ...defined('lastRefreshAt', recorded?.lastRefreshAt),
    ...(refreshExpiresAt === undefined ? {} : { refreshTokenExpiresAt: new Date(refreshExpiresAt).toISOString(), refreshTokenDaysLeft: daysLeft(refreshExpiresAt, now) }),
    ...(auth.method === 'client-credentials' && auth.clientSecretExpiresOn !== undefined ? { clientSecretExpiresOn: auth.clientSecretExpiresOn } : {}),
    ...(secretExpiresAt === undefined ? {} : { clientSecretDaysLeft: daysLeft(secretExpiresAt, now) }),
    ...(auth.method === 'delegated' ? { keepAlive: { everyHours: auth.keepAliveHours, ...defined('nextRunAt', deadSignIn ? undefined : keepAlive?.nextRunAt) } } : {}),
    ...(live === undefined ? {} : { delivery: liveDelivery(live) }),
    ...(live?.lastDelivery === undefined ? {} : { lastDelivery: { at: live.lastDelivery.at, id: live.lastDelivery.id } }),
    ...(live?.lastError === undefined
      ? {}
      : {
          lastError: {
            at: live.lastError.at,
            text: oneLine(live.lastError.text),
            ...defined('condition', live.lastError.condition),
            meaning: lastErrorCondition?.meaning ?? input.meaningOf?.(live.lastError.text) ?? firstSentence(live.lastError.text),
          },
        }),
  };
}

/** A hold, from the recorded sign-in state or the running daemon; pushes its problem and says which kind. */
function holdProblem(account: StatusAccount, input: StatusReportInput, recorded: SignInState | undefined, live: LiveAccount | undefined, found: StatusProblem[]): AccountReport['state'] | undefined {
  const name = account.name;
  const login = `run \`smtp-oauth-relay login --account ${name}\``;
  if (account.auth.method === 'delegated' && recorded?.status === 'never-signed-in') {
    found.push({ level: 'critical', account: name, text: `${name}: has never signed in; its mail is held.`, nextStep: login });
    return 'sign-in-required';
  }
  if (recorded?.status === 'sign-in-required') {
    const failure = recorded.lastRefreshError;
    const why = failure === undefined ? '' : ` (${failure.aadsts ?? failure.error}: ${trimStop(failure.message)})`;
    const admin = account.auth.method === 'client-credentials';
    const nextStep = admin ? `fix the app registration named in the reason, then \`smtp-oauth-relay secret set --account ${name}\` if the secret changed` : login;
    found.push({ level: 'critical', account: name, text: `${name}: sign-in required${why}; its mail is held.`, nextStep });
    return admin ? 'admin-action-required' : 'sign-in-required';
  }
  if (live === undefined || !isHold(live.state)) return undefined;
  const condition = conditionById(live.condition);
  const sentence = stateSentence(name, live);
  const fix = condition === undefined ? undefined : fixFor(condition, fixContext(account, input));
  const nextStep = fix ?? (live.state === 'held-for-sign-in' ? login : `\`smtp-oauth-relay doctor --account ${name}\` shows the exact step`);
  found.push({ level: 'critical', account: name, text: sentence, nextStep });
  return live.state === 'held-for-sign-in' ? 'sign-in-required' : 'admin-action-required';
}

/** Throttling at once, outages after the configured few minutes; each says what it is and what comes next. */
function pauseProblems(account: StatusAccount, live: LiveAccount, condition: Condition | undefined, input: StatusReportInput): StatusProblem[] {
  const name = account.name;
  if (live.state === 'throttled') {
    return [{ level: 'warning', account: name, text: stateSentence(name, live), nextStep: 'nothing at once: the relay slows down by itself; if it lasts, look for other programs sending as this mailbox' }];
  }
  if (live.state !== 'waiting-for-upstream' && live.state !== 'waiting-for-identity-provider') return [];
  const minutes = input.config.delivery?.upstreamOutageWarningMinutes ?? DEFAULT_OUTAGE_WARNING_MINUTES;
  const since = parseTime(live.since) ?? input.now;
  if (input.now - since < minutes * MINUTE_MS) return [];
  const fix = condition === undefined ? undefined : fixFor(condition, fixContext(account, input));
  return [{ level: 'warning', account: name, text: stateSentence(name, live), nextStep: fix ?? '`smtp-oauth-relay doctor` checks the path to Microsoft 365 and to the identity provider' }];
}

/** "sage: Microsoft 365 cannot be reached: ... (since ...); the next connection is tried at ...." */
function stateSentence(name: string, live: LiveAccount): string {
  const doing = trimStop(live.doing ?? `${live.state}${live.reason === undefined ? '' : `: ${live.reason}`}`);
  const since = live.since === undefined ? '' : ` (since ${live.since})`;
  const next = live.next === undefined ? '' : `; ${trimStop(live.next)}`;
  return `${name}: ${doing}${since}${next}.`;
}

function fixContext(account: StatusAccount, input: StatusReportInput): FixContext {
  const upstream = input.config.upstream;
  return {
    account: account.name,
    mailbox: account.mailbox,
    method: account.auth.method,
    clientId: account.auth.clientId,
    tenantId: account.auth.tenantId,
    ...(upstream?.host === undefined ? {} : { host: upstream.host }),
    ...(upstream === undefined ? {} : { port: upstream.port }),
  };
}

function liveDelivery(live: LiveAccount): NonNullable<AccountReport['delivery']> {
  return {
    state: live.state,
    ...defined('reason', live.reason),
    ...defined('condition', live.condition),
    ...defined('since', live.since),
    ...defined('doing', live.doing),
    ...defined('next', live.next),
    ...defined('nextAttemptAt', live.nextAttemptAt),
  };
}

function isHold(state: AccountState): boolean {
  return state === 'held-for-sign-in' || state === 'held-for-admin';
}

function conditionOfAadsts(code: string): string {
  return classify({ origin: 'identity', text: code, aadsts: code }).id;
}

function expiryProblem(account: string, what: string, expiresAt: number, now: number, maxThresholdDays: number, nextStep: string): StatusProblem[] {
  const left = expiresAt - now;
  const day = new Date(expiresAt).toISOString().slice(0, 10);
  if (left <= 0) return [{ level: 'critical', account, text: `${account}: the ${what} expired on ${day}; token requests fail.`, nextStep }];
  if (left > maxThresholdDays * DAY_MS) return [];
  const days = daysLeft(expiresAt, now);
  return [{ level: 'warning', account, text: `${account}: the ${what} expires in ${days} day${days === 1 ? '' : 's'} (${day}).`, nextStep }];
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function trimStop(text: string): string {
  return oneLine(text).replace(/[.\s]+$/, '');
}

function firstSentence(text: string): string {
  const line = oneLine(text);
  const end = line.search(/\.(\s|$)/);
  return end === -1 ? line : line.slice(0, end + 1);
}

/** Rounded up, as the expiry alerts word it ("expires in 5 days" for 4.5). */
function daysLeft(expiresAt: number, now: number): number {
  return Math.ceil((expiresAt - now) / DAY_MS);
}

export function parseTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

/** `{ key: value }` when value is defined: the report never carries explicit undefineds. */
function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
