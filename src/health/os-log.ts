/**
 * Warnings raised by the relay (refresh window, sign-in required, queue stuck) also go to the
 * operating system's own log, where an administrator (or the monitoring reading it) looks first:
 *  - Linux under systemd: the journal. journald already captures the service's stderr, and with
 *    SyslogLevelPrefix=yes (the default, systemd.exec(5)) a line starting with the sd-daemon
 *    prefix "<4>" is stored at priority warning, "<3>" at error (sd-daemon(3)). No child
 *    process, no library, and nothing lost if the journal is slow: it is the service's own stream.
 *  - Windows under the service host (windows/service-host.c, which sets
 *    SMTP_OAUTH_RELAY_SERVICE_HOST=1): the same "<4>"/"<3>" lines on stderr, which the host reads
 *    and writes to the Application event log through its registered source "smtp-oauth-relay"
 *    (ReportEventW; docs/windows-service.md). No eventcreate.exe (missing under Wine, and a child
 *    that would inherit the environment, secrets named by clientSecretEnv included).
 *  - Elsewhere (macOS, a terminal, Windows outside the service): nothing more; the JSON log line
 *    already holds the warning.
 * Texts are the warnings' own sentences: they never hold a token or a secret.
 */

export type OsLogLevel = 'warn' | 'error';

export interface OsLog {
  warn(text: string): void;
  error(text: string): void;
}

/** The Windows event source the installer registers and the service host reports through. */
export const EVENT_SOURCE = 'smtp-oauth-relay';
/** The event ids the service host uses per level (windows/service-messages.mc), so a filter in Event Viewer can pick them. */
export const EVENT_IDS: Readonly<Record<OsLogLevel, number>> = { warn: 100, error: 101 };
/** Set by the Windows service host in the relay's environment. */
export const SERVICE_HOST_ENV = 'SMTP_OAUTH_RELAY_SERVICE_HOST';

/** sd-daemon(3) priority prefixes: LOG_WARNING is 4, LOG_ERR is 3. */
const PRIORITY_PREFIX: Readonly<Record<OsLogLevel, string>> = { warn: '<4>', error: '<3>' };

export const noOsLog: OsLog = { warn: () => undefined, error: () => undefined };

/**
 * Writes "<4>text" lines to stderr, one line per warning: journald (Linux) and the Windows
 * service host both read the prefix as the level.
 */
export class PriorityLineLog implements OsLog {
  constructor(
    private readonly stream: { write(text: string): unknown } = process.stderr,
    private readonly onFailure: (error: Error) => void = () => undefined,
  ) {}

  warn(text: string): void {
    this.write('warn', text);
  }

  error(text: string): void {
    this.write('error', text);
  }

  private write(level: OsLogLevel, text: string): void {
    // Both readers split at newlines: a second line would lose the prefix (and its level).
    try {
      this.stream.write(`${PRIORITY_PREFIX[level]}${oneLine(text)}\n`);
    } catch (error) {
      // A warning that cannot be written must not take the relay down; the JSON log has it.
      this.onFailure(error as Error);
    }
  }
}

/** The name the journal tests and callers know it by. */
export const JournalLog = PriorityLineLog;

/** Chooses the OS log for where the relay runs. */
export function createOsLog(
  options: { platform?: NodeJS.Platform; env?: NodeJS.ProcessEnv; stream?: { write(text: string): unknown }; onFailure?: (error: Error) => void } = {},
): OsLog {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  if (platform === 'win32') return env[SERVICE_HOST_ENV] === '1' ? new PriorityLineLog(options.stream, options.onFailure) : noOsLog;
  // systemd sets JOURNAL_STREAM when stderr is connected to the journal, INVOCATION_ID for every
  // unit it runs (systemd.exec(5), "Environment variables in spawned processes").
  if (platform === 'linux' && (env.JOURNAL_STREAM !== undefined || env.INVOCATION_ID !== undefined)) return new PriorityLineLog(options.stream, options.onFailure);
  return noOsLog;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
