/**
 * Warnings raised by the relay (refresh window, sign-in required, queue stuck) also go to the
 * operating system's own log, where an administrator (or the monitoring reading it) looks first:
 *  - Linux under systemd: the journal. journald already captures the service's stderr, and with
 *    SyslogLevelPrefix=yes (the default, systemd.exec(5)) a line starting with the sd-daemon
 *    prefix "<4>" is stored at priority warning, "<3>" at error (sd-daemon(3)). No child
 *    process, no library, and nothing lost if the journal is slow: it is the service's own stream.
 *  - Windows: the Application event log, source "smtp-oauth-relay", through eventcreate.exe
 *    (creates the source on first use; /ID 1..1000, /D at most 255 characters).
 *  - Elsewhere (macOS, a terminal): nothing more; the JSON log line already holds the warning.
 * Texts are the warnings' own sentences: they never hold a token or a secret.
 */
import { execFile } from 'node:child_process';

export type OsLogLevel = 'warn' | 'error';

export interface OsLog {
  warn(text: string): void;
  error(text: string): void;
}

/** Runs a program with its arguments (no shell); injected so the Windows commands are testable anywhere. */
export type CommandRunner = (program: string, args: readonly string[]) => Promise<void>;

export const EVENT_SOURCE = 'smtp-oauth-relay';
/** eventcreate accepts /ID 1 to 1000. One id per level, so a filter in Event Viewer can pick them. */
export const EVENT_IDS: Readonly<Record<OsLogLevel, number>> = { warn: 100, error: 101 };
/** eventcreate refuses a /D longer than 255 characters. */
export const EVENT_TEXT_MAX = 255;

/** sd-daemon(3) priority prefixes: LOG_WARNING is 4, LOG_ERR is 3. */
const JOURNAL_PREFIX: Readonly<Record<OsLogLevel, string>> = { warn: '<4>', error: '<3>' };

export const noOsLog: OsLog = { warn: () => undefined, error: () => undefined };

/** Writes "<4>text" lines to the service's stderr, which journald reads. One line per warning. */
export class JournalLog implements OsLog {
  constructor(private readonly stream: { write(text: string): unknown } = process.stderr) {}

  warn(text: string): void {
    this.write('warn', text);
  }

  error(text: string): void {
    this.write('error', text);
  }

  private write(level: OsLogLevel, text: string): void {
    // journald splits at newlines: a second line would lose the prefix (and its priority).
    this.stream.write(`${JOURNAL_PREFIX[level]}${oneLine(text)}\n`);
  }
}

/** The Application event log through eventcreate.exe. A failure is reported, never thrown. */
export class WindowsEventLog implements OsLog {
  constructor(
    private readonly run: CommandRunner = execFileRunner,
    private readonly onFailure: (error: Error) => void = () => undefined,
  ) {}

  warn(text: string): void {
    this.write('warn', text);
  }

  error(text: string): void {
    this.write('error', text);
  }

  private write(level: OsLogLevel, text: string): void {
    this.run('eventcreate', eventcreateArgs(level, text)).catch((error: unknown) => this.onFailure(error as Error));
  }
}

/** The argv of eventcreate for one warning (without the program name). */
export function eventcreateArgs(level: OsLogLevel, text: string): string[] {
  return ['/L', 'APPLICATION', '/SO', EVENT_SOURCE, '/T', level === 'warn' ? 'WARNING' : 'ERROR', '/ID', String(EVENT_IDS[level]), '/D', eventText(text)];
}

/**
 * One line, no double quotes, at most 255 characters. Node quotes an argument with spaces for
 * CreateProcess, and a '"' inside would end that quoting in eventcreate's parser, so it becomes "'".
 */
export function eventText(text: string): string {
  const clean = oneLine(text).replace(/"/g, "'");
  return clean.length <= EVENT_TEXT_MAX ? clean : `${clean.slice(0, EVENT_TEXT_MAX - 3)}...`;
}

/** Chooses the OS log for where the relay runs. */
export function createOsLog(options: { platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv; stream?: { write(text: string): unknown }; run?: CommandRunner; onFailure?: (error: Error) => void } = {}): OsLog {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  if (platform === 'win32') return new WindowsEventLog(options.run, options.onFailure);
  // systemd sets JOURNAL_STREAM when stderr is connected to the journal, INVOCATION_ID for every
  // unit it runs (systemd.exec(5), "Environment variables in spawned processes").
  if (platform === 'linux' && (env.JOURNAL_STREAM !== undefined || env.INVOCATION_ID !== undefined)) return new JournalLog(options.stream);
  return noOsLog;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

const execFileRunner: CommandRunner = (program, args) =>
  new Promise((resolve, reject) => {
    execFile(program, [...args], { windowsHide: true, timeout: 10_000 }, (error) => (error === null ? resolve() : reject(error)));
  });
