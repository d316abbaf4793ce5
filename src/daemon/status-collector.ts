/**
 * Gathers what `status` reports: the running daemon's own status over the control channel, and
 * the state on disk (sign-in states, spool/queue, spool/failed), which stays readable while the
 * daemon is down. Then builds the report (src/health/status-report.ts).
 */
import { stat } from 'node:fs/promises';
import { listSignInStates } from '../auth/index.js';
import type { Config } from '../core/config.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { SignInState } from '../core/sign-in-state.js';
import { classifyReply } from '../delivery/reply-classification.js';
import { buildStatusReport, type StatusReport } from '../health/status-report.js';
import { configFileWarnings } from '../health/standing-warnings.js';
import { listQueue } from '../queue/queue-admin.js';
import { requestControl } from './control-client.js';
import { controlEndpoint } from './control-endpoint.js';
import type { RelayStatus } from './relay-status.js';

export interface CollectStatusOptions {
  /** How long to wait for the daemon's answer. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
  /** The configuration file, for its standing warnings (mode, inline secrets) also while the daemon is down. */
  readonly configFile?: string;
}

interface DiskState {
  signInStates?: SignInState[];
  queued?: QueueRecord[];
  failed?: QueueRecord[];
  error?: string;
}

/** `status`: asks the daemon, reads the disk, and builds the report (never throws for a stopped daemon). */
export async function collectStatus(config: Config, options: CollectStatusOptions = {}): Promise<StatusReport> {
  const [live, disk, localWarnings] = await Promise.all([
    askDaemon(config, options.timeoutMs ?? 5_000),
    readDisk(config),
    options.configFile === undefined ? [] : configFileWarnings(options.configFile, config),
  ]);
  return buildStatusReport({
    now: (options.now ?? Date.now)(),
    config,
    daemon: live.status,
    daemonError: live.error,
    signInStates: disk.signInStates,
    queued: disk.queued,
    failed: disk.failed,
    diskError: disk.error,
    localWarnings,
    meaningOf,
  });
}

/**
 * The same report from a status the daemon already holds (for the health endpoint's /status):
 * the sign-in states and the queue are still read from disk, where the daemon keeps them.
 */
export async function statusFromLive(config: Config, live: RelayStatus, now: number = Date.now()): Promise<StatusReport> {
  const disk = await readDisk(config);
  return buildStatusReport({
    now,
    config,
    daemon: live,
    signInStates: disk.signInStates,
    queued: disk.queued,
    failed: disk.failed,
    diskError: disk.error,
    meaningOf,
  });
}

/**
 * One sentence for an upstream reply ("550 5.7.60 ...") that came without a recorded condition
 * (a daemon older than the catalogue ids): the catalogue's. Texts that are not replies (a
 * reason the scheduler already worded) are their own meaning. Status reads the stored
 * condition first and calls this only for old records.
 */
export function meaningOf(text: string): string {
  const code = /^\s*([2-5]\d\d)[\s-]/.exec(text)?.[1];
  const errorCode = /\b(E[A-Z]{3,})\b/.exec(text)?.[1];
  if (code === undefined && errorCode === undefined) return firstSentence(text);
  return classifyReply({ code: code === undefined ? undefined : Number(code), text, errorCode }).meaning;
}

async function askDaemon(config: Config, timeoutMs: number): Promise<{ status?: RelayStatus; error?: string }> {
  try {
    const response = await requestControl(controlEndpoint(config.dataDir), { command: 'status' }, { timeoutMs });
    if (response === undefined) return {};
    if (!response.ok) return { error: response.error };
    return { status: response.result as RelayStatus };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

async function readDisk(config: Config): Promise<DiskState> {
  // Every reader treats a missing file as "nothing yet", so a missing data folder must be caught
  // here: it means this is not where the relay keeps its state.
  try {
    const folder = await stat(config.dataDir);
    if (!folder.isDirectory()) return { error: `${config.dataDir} is not a folder` };
  } catch (error) {
    return { error: `the data folder ${config.dataDir} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
  const errors: string[] = [];
  const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      errors.push(`${what}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const [signInStates, queued, failed] = await Promise.all([
    attempt('sign-in states', () => listSignInStates(config.dataDir, config.accounts)),
    attempt('spool/queue', () => listQueue(config.dataDir, 'queue')),
    attempt('spool/failed', () => listQueue(config.dataDir, 'failed')),
  ]);
  return {
    ...(signInStates === undefined ? {} : { signInStates }),
    ...(queued === undefined ? {} : { queued }),
    ...(failed === undefined ? {} : { failed }),
    ...(errors.length === 0 ? {} : { error: errors.join('; ') }),
  };
}

function firstSentence(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const end = line.search(/\.(\s|$)/);
  return end === -1 ? line : line.slice(0, end + 1);
}
