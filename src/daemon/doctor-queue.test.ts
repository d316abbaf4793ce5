import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../core/config.js';
import type { AccountSnapshot } from '../core/delivery-contracts.js';
import { silentLogger } from '../core/logger.js';
import { Spool } from '../queue/index.js';
import { checkQueue } from './doctor-queue.js';

const snapshot = (extra: Partial<AccountSnapshot>): AccountSnapshot => ({
  account: 'sage',
  mailbox: 'sage@contoso.example',
  state: 'active',
  doing: 'delivering normally',
  next: 'messages go as they fall due',
  inFlight: 0,
  queued: 0,
  ...extra,
});

describe('doctor: the queue', () => {
  let dir: string;
  let config: Config;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'doctor-queue-'));
    config = configSchema.parse({ dataDir: dir, accounts: [{ name: 'sage', mailbox: 'sage@contoso.example', auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecretEnv: 'S' } }] });
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fails while an account is held, with the catalogue fix, and never says all is well', async () => {
    const held = snapshot({ state: 'held-for-admin', condition: 'smtp-auth-disabled', queued: 4, since: '2026-06-01T11:00:00.000Z', doing: 'held until an administrator acts: SMTP AUTH is disabled', next: 'one message is tried at 2026-06-01T11:05:00.000Z to see whether it was fixed' });
    const [check] = await checkQueue(config, config.accounts, [held]);
    expect(check).toMatchObject({ check: 'queue', account: 'sage', status: 'fail' });
    expect(check?.finding).toBe('4 queued; held until an administrator acts: SMTP AUTH is disabled (since 2026-06-01T11:00:00.000Z); one message is tried at 2026-06-01T11:05:00.000Z to see whether it was fixed');
    expect(check?.fix).toContain('Set-CASMailbox -Identity sage@contoso.example');
  });

  it('warns while waiting for Microsoft 365, passes while delivering', async () => {
    expect((await checkQueue(config, config.accounts, [snapshot({ state: 'waiting-for-upstream', condition: 'network-error' })]))[0]?.status).toBe('warn');
    expect((await checkQueue(config, config.accounts, [snapshot({ queued: 2 })]))[0]).toMatchObject({ status: 'pass', finding: 'delivering, 2 queued' });
  });

  it('without a daemon: messages in the queue are a warning (nothing delivers them)', async () => {
    expect((await checkQueue(config, config.accounts, undefined))[0]?.status).toBe('pass');
    const { spool } = await Spool.open(dir, { logger: silentLogger() });
    await spool.enqueueBuffer(Buffer.from('Subject: x\r\n\r\nbody\r\n'), { kind: 'message', account: 'sage', client: { address: '127.0.0.1' }, mailFrom: 'a@contoso.example', recipients: ['b@fabrikam.example'] });
    await spool.close();
    expect((await checkQueue(config, config.accounts, undefined))[0]).toMatchObject({ status: 'warn', finding: expect.stringContaining('no relay runs') });
  });
});
