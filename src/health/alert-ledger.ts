/**
 * The record of warnings already sent, `<dataDir>/state/alerts.json`, so that "once per
 * threshold" survives a restart. Written durably (tmp file, fsync, rename, fsync the folder):
 * after a crash the file holds the old or the new list whole.
 *
 * Keys refer to a particular expiry (see expiry-warnings.ts), so old ones never match again;
 * they are pruned after RETENTION_DAYS to keep the file small.
 */
import { mkdir, readFile, rename } from 'node:fs/promises';
import type { Clock } from '../core/clock.js';
import { PRIVATE_DIR_MODE, writeFileDurable } from '../core/durable-fs.js';
import { dataPaths } from '../core/data-paths.js';

/** Longer than any refresh window (90 days), so a key is never pruned while it can still match. */
export const RETENTION_DAYS = 180;
const DAY_MS = 24 * 3600_000;

interface LedgerFile {
  readonly version: 1;
  /** Key -> when the warning was sent (ISO 8601). */
  readonly sent: Record<string, string>;
}

export class AlertLedger {
  /** Where an unreadable ledger was moved at open, if it was (the caller logs it). */
  readonly setAside: string | undefined;

  private constructor(
    readonly path: string,
    private readonly clock: Clock,
    private readonly sent: Map<string, number>,
    setAside: string | undefined,
  ) {
    this.setAside = setAside;
  }

  /** `<dataDir>/state/alerts.json` */
  static pathIn(dataDir: string): string {
    return dataPaths(dataDir).alerts;
  }

  /**
   * Reads the ledger in `dataDir` (empty when there is none yet). An unreadable file is moved
   * aside, never deleted, and the ledger starts empty: a warning sent twice beats one never sent.
   */
  static async open(dataDir: string, clock: Clock): Promise<AlertLedger> {
    const path = AlertLedger.pathIn(dataDir);
    await mkdir(dataPaths(dataDir).state, { recursive: true, mode: PRIVATE_DIR_MODE });
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new AlertLedger(path, clock, new Map(), undefined);
      throw error;
    }
    const sent = parseLedger(text);
    if (sent === undefined) {
      const aside = `${path}.unreadable-${clock.now()}`;
      await rename(path, aside);
      return new AlertLedger(path, clock, new Map(), aside);
    }
    return new AlertLedger(path, clock, sent, undefined);
  }

  has(key: string): boolean {
    return this.sent.has(key);
  }

  /** When `key` was recorded (ms since the epoch), if it was. */
  sentAt(key: string): number | undefined {
    return this.sent.get(key);
  }

  get size(): number {
    return this.sent.size;
  }

  /** Records `key` as sent now and writes the ledger durably before returning. */
  async record(key: string): Promise<void> {
    const now = this.clock.now();
    this.sent.set(key, now);
    this.prune(now);
    const file: LedgerFile = {
      version: 1,
      sent: Object.fromEntries([...this.sent].map(([k, at]) => [k, new Date(at).toISOString()])),
    };
    await writeFileDurable(this.path, `${JSON.stringify(file, null, 2)}\n`);
  }

  private prune(now: number): void {
    const oldest = now - RETENTION_DAYS * DAY_MS;
    for (const [key, at] of this.sent) {
      if (at < oldest) this.sent.delete(key);
    }
  }
}

function parseLedger(text: string): Map<string, number> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { version, sent } = parsed as Partial<LedgerFile>;
  if (version !== 1 || typeof sent !== 'object' || sent === null) return undefined;
  const entries = new Map<string, number>();
  for (const [key, at] of Object.entries(sent)) {
    const time = typeof at === 'string' ? Date.parse(at) : Number.NaN;
    if (!Number.isNaN(time)) entries.set(key, time);
  }
  return entries;
}
