/**
 * doctor's queue check: "All checks passed" must not be said while mail is held. With a running
 * daemon, each account's delivery state (the state machine, src/delivery/account-states.ts):
 * held -> FAIL with the catalogue's fix, waiting or throttled -> WARN; without one, messages
 * waiting in the spool -> WARN (nothing delivers them).
 */
import { conditionById, fixFor } from '../core/conditions/index.js';
import type { AccountConfig, Config } from '../core/config.js';
import { isHeldState, type AccountSnapshot } from '../core/delivery-contracts.js';
import { listQueue } from '../queue/index.js';

export interface QueueCheck {
  readonly check: 'queue';
  readonly account?: string;
  readonly status: 'pass' | 'warn' | 'fail';
  readonly finding: string;
  readonly fix?: string;
}

export async function checkQueue(config: Config, accounts: readonly AccountConfig[], live: readonly AccountSnapshot[] | undefined): Promise<QueueCheck[]> {
  if (live === undefined) {
    const queued = (await listQueue(config.dataDir, 'queue').catch(() => [])).filter((record) => accounts.some((a) => a.name === record.account));
    if (queued.length === 0) return [{ check: 'queue', status: 'pass', finding: 'no message waiting in the queue' }];
    return [{ check: 'queue', status: 'warn', finding: `${queued.length} message${queued.length === 1 ? ' waits' : 's wait'} in the queue and no relay runs to deliver ${queued.length === 1 ? 'it' : 'them'}`, fix: 'start the relay service' }];
  }
  return accounts.map((account) => accountCheck(config, account, live.find((snapshot) => snapshot.account === account.name)));
}

function accountCheck(config: Config, account: AccountConfig, snapshot: AccountSnapshot | undefined): QueueCheck {
  const base = { check: 'queue' as const, account: account.name };
  if (snapshot === undefined || snapshot.state === 'active') {
    return { ...base, status: 'pass', finding: `delivering${snapshot === undefined || snapshot.queued === 0 ? '' : `, ${snapshot.queued} queued`}` };
  }
  const condition = conditionById(snapshot.condition);
  const fix = condition === undefined ? undefined : fixFor(condition, { account: account.name, mailbox: account.mailbox, method: account.auth.method, clientId: account.auth.clientId, tenantId: account.auth.tenantId, host: config.upstream.host, port: config.upstream.port });
  const finding = `${snapshot.queued} queued; ${snapshot.doing.replace(/\.$/, '')} (since ${snapshot.since ?? '?'}); ${snapshot.next.replace(/\.$/, '')}`;
  return { ...base, status: isHeldState(snapshot.state) ? 'fail' : 'warn', finding, ...(fix === undefined ? {} : { fix }) };
}
