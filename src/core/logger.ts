/**
 * Structured logs with pino: JSON lines to <dataDir>/logs/relay.log and to stdout
 * (pretty when stdout is a terminal). Secrets are redacted by key wherever they appear.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type pinoPretty from 'pino-pretty';

/** pino-pretty only for a terminal: a service never loads it (docs/performance.md, idle memory). */
const loadPretty = (): typeof pinoPretty => createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty;

export type { Logger } from 'pino';

/** Keys whose values never reach a log line, at any depth we log. */
export const REDACTED_PATHS = [
  'token',
  'accessToken',
  'clientSecret',
  'password',
  'pass',
  'secret',
  'authorization',
  '*.token',
  '*.accessToken',
  '*.clientSecret',
  '*.password',
  '*.pass',
  '*.secret',
  '*.authorization',
  '*.*.token',
  '*.*.accessToken',
  '*.*.clientSecret',
  '*.*.password',
];

export interface LoggerOptions {
  readonly level: string;
  /** Folder for relay.log; no file when undefined. */
  readonly logDir?: string | undefined;
  /** Where human or JSON output goes; defaults to stdout. */
  readonly stdout?: NodeJS.WritableStream;
  readonly pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const stdout = options.stdout ?? process.stdout;
  const usePretty = options.pretty ?? (stdout === process.stdout && process.stdout.isTTY === true);
  const streams: pino.StreamEntry[] = [
    { level: options.level as pino.Level, stream: usePretty ? loadPretty()({ destination: stdout as never, sync: true }) : stdout },
  ];
  if (options.logDir !== undefined) {
    mkdirSync(options.logDir, { recursive: true, mode: 0o700 });
    const logFile = join(options.logDir, 'relay.log');
    // Owner-only (the log names mailboxes, clients and senders): created 0600, and a file left
    // 0644 by an older version is narrowed. Windows has no mode bits; the folder's ACL applies.
    if (process.platform !== 'win32') chmodOwnerOnly(logFile);
    // Synchronous: a line logged just before a crash or process.exit must reach the file, and
    // the relay logs about two lines per message, so the cost of a write(2) per line is small.
    streams.push({
      level: options.level as pino.Level,
      stream: pino.destination({ dest: logFile, mkdir: true, sync: true, mode: LOG_FILE_MODE }),
    });
  }
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.multistream(streams),
  );
}

const LOG_FILE_MODE = 0o600;

function chmodOwnerOnly(file: string): void {
  try {
    chmodSync(file, LOG_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
