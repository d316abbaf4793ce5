/**
 * The `status` report as text for people: the first line alone answers the question
 * ("OK: ...", "WARNING: ...", "CRITICAL: ...", "UNKNOWN: ..."), as monitoring plugins print it;
 * then the daemon, each account, the queue, and every problem with its next step.
 */
import type { AccountReport, StatusReport } from './status-report.js';

export function formatStatusText(report: StatusReport): string {
  const lines: string[] = [report.summary, ''];
  lines.push(daemonLine(report.daemon));
  for (const account of report.accounts) lines.push('', ...accountLines(account));
  if (report.accounts.length > 0 || report.status !== 'unknown') lines.push('', ...queueLines(report.queue));
  if (report.problems.length > 0) {
    lines.push('', 'Problems:');
    for (const problem of report.problems) {
      lines.push(`  [${problem.level.toUpperCase()}] ${problem.text}`);
      if (problem.nextStep !== undefined) lines.push(`      next step: ${problem.nextStep}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function daemonLine(daemon: StatusReport['daemon']): string {
  if (!daemon.running) return 'Relay: not running';
  const listening = daemon.listening === undefined ? '' : `, listening on ${daemon.listening.host}:${daemon.listening.port}`;
  return `Relay: running, version ${daemon.version ?? '?'}, pid ${daemon.pid ?? '?'}, up ${duration(daemon.uptimeSeconds ?? 0)}${listening}`;
}

function accountLines(account: AccountReport): string[] {
  const lines = [`Account ${account.name} (${account.mailbox}, ${account.method}): ${account.state.toUpperCase()}`];
  const add = (label: string, value: string | undefined): void => {
    if (value !== undefined) lines.push(`  ${label.padEnd(22)} ${value}`);
  };
  if (account.signedInAs !== undefined) add('signed in as', `${account.signedInAs}${account.mailboxMatches === false ? ' (NOT the mailbox)' : ''}`);
  add('access token expires', account.accessTokenExpiresAt);
  add('last refresh', account.lastRefreshAt);
  if (account.refreshTokenExpiresAt !== undefined) add('sign-in lasts until', `${account.refreshTokenExpiresAt} (${days(account.refreshTokenDaysLeft)})`);
  if (account.clientSecretExpiresOn !== undefined) add('client secret expires', `${account.clientSecretExpiresOn} (${days(account.clientSecretDaysLeft)})`);
  if (account.keepAlive !== undefined) add('keep-alive', `every ${account.keepAlive.everyHours} h${account.keepAlive.nextRunAt === undefined ? '' : `, next ${account.keepAlive.nextRunAt}`}`);
  if (account.delivery !== undefined) {
    // What the state machine says: what is happening, since when, and what happens next.
    const { state, since, doing, next, reason } = account.delivery;
    add('delivery', `${state}${since === undefined || state === 'active' ? '' : ` since ${since}`}: ${stop(doing ?? reason ?? state)}`);
    if (next !== undefined && state !== 'active') add('next', stop(next));
  }
  if (account.lastDelivery !== undefined) add('last delivery', `${account.lastDelivery.at} (${account.lastDelivery.id})`);
  if (account.lastError !== undefined) {
    const { at, text, meaning } = account.lastError;
    // The meaning only when it adds something: a reason the scheduler worded already carries it.
    add('last error', `${at}: ${text}${text.includes(stop(meaning)) ? '' : ` -- ${meaning}`}`);
  }
  return lines;
}

function queueLines(queue: StatusReport['queue']): string[] {
  const oldest = queue.oldestAgeSeconds === undefined ? '' : `, oldest ${duration(queue.oldestAgeSeconds)}`;
  return [`Queue: ${queue.waiting} waiting, ${queue.deferred} deferred, ${queue.held} held, ${queue.failed} failed${oldest}`];
}

/** A sentence without its full stop, so that joining never makes "..". */
function stop(text: string): string {
  return text.replace(/[.\s]+$/, '');
}

function days(left: number | undefined): string {
  if (left === undefined) return '?';
  if (left < 0) return `expired ${-left} day${left === -1 ? '' : 's'} ago`;
  return `${left} day${left === 1 ? '' : 's'} left`;
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} days`;
}
