/**
 * listen.auth "optional" means "AUTH or no AUTH", not "a wrong password is as good as none":
 * once AUTH failed in a session while local users exist, MAIL FROM gets 530 5.7.0 until an AUTH
 * succeeds. A session that never tried AUTH is matched by sender address as before.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { addUser, usersFilePath } from '../../src/inbound/local-users.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  await harness?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  harness = undefined;
  dataDir = undefined;
});

const plain = (user: string, password: string): string => `AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`;

async function start(withUser: boolean): Promise<Harness> {
  dataDir = await mkdtemp(join(tmpdir(), 'auth-optional-'));
  if (withUser) await addUser(usersFilePath(dataDir), 'sage', 'sage-pw', { account: 'sage' });
  harness = await startHarness({ auth: 'optional' }, silentLogger(), { dataDir });
  return harness;
}

describe('auth: optional', () => {
  it('refuses MAIL after a failed AUTH while users exist, and takes it once AUTH succeeds', { timeout: 30_000 }, async () => {
    const h = await start(true);
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.test'), 250);
    expect((await wire.command(plain('sage', 'wrong'))).last).toMatch(/^535 5\.7\.8 /);
    expect((await wire.command('MAIL FROM:<sage@contoso.com>')).last).toBe(
      '530 5.7.0 Authentication failed in this session: no mail is taken until AUTH succeeds; check the user name and password',
    );
    await wire.expect(wire.command(plain('sage', 'sage-pw')), 235);
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
  });

  it('still takes mail from a session that never tried AUTH', async () => {
    const h = await start(true);
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.test'), 250);
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
  });

  it('keeps the old behaviour when there are no users at all (AUTH cannot succeed then)', async () => {
    const h = await start(false);
    const wire = await h.wire();
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO client.test'), 250);
    expect((await wire.command(plain('sage', 'whatever'))).last).toMatch(/^535 /);
    await wire.expect(wire.command('MAIL FROM:<sage@contoso.com>'), 250);
  });
});
