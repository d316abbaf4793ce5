import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/manual-clock.js';
import { AlertLedger, RETENTION_DAYS } from './alert-ledger.js';

const DAY = 24 * 3600_000;

describe('AlertLedger', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'alert-ledger-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts empty and keeps recorded keys across a reopen, in <dataDir>/state/alerts.json', async () => {
    const clock = new ManualClock();
    const ledger = await AlertLedger.open(dataDir, clock);
    expect(ledger.size).toBe(0);
    await ledger.record('sage|refresh-token-expiry|14|2026-12-06T09:00:00.000Z');
    const reopened = await AlertLedger.open(dataDir, clock);
    expect(reopened.has('sage|refresh-token-expiry|14|2026-12-06T09:00:00.000Z')).toBe(true);
    expect(reopened.has('sage|refresh-token-expiry|7|2026-12-06T09:00:00.000Z')).toBe(false);
    expect(reopened.sentAt('sage|refresh-token-expiry|14|2026-12-06T09:00:00.000Z')).toBe(clock.now());
    const file = JSON.parse(await readFile(join(dataDir, 'state', 'alerts.json'), 'utf8'));
    expect(file.version).toBe(1);
    // No temporary file is left beside it.
    expect(await readdir(join(dataDir, 'state'))).toEqual(['alerts.json']);
  });

  it(`prunes keys older than ${RETENTION_DAYS} days at the next write`, async () => {
    const clock = new ManualClock();
    const ledger = await AlertLedger.open(dataDir, clock);
    await ledger.record('old');
    await clock.advance((RETENTION_DAYS + 1) * DAY);
    await ledger.record('new');
    const reopened = await AlertLedger.open(dataDir, clock);
    expect(reopened.has('old')).toBe(false);
    expect(reopened.has('new')).toBe(true);
  });

  it('moves an unreadable ledger aside instead of deleting it, and starts empty', async () => {
    const clock = new ManualClock();
    await AlertLedger.open(dataDir, clock);
    await writeFile(join(dataDir, 'state', 'alerts.json'), '{ not json');
    const ledger = await AlertLedger.open(dataDir, clock);
    expect(ledger.size).toBe(0);
    expect(ledger.setAside).toBeDefined();
    expect(await readFile(ledger.setAside!, 'utf8')).toBe('{ not json');
  });
});
