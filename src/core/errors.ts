/**
 * Errors that know which SMTP reply they should become.
 *
 * smtp-server turns an error passed to a hook's callback into a reply using `responseCode`
 * and the message; we keep the enhanced status code (RFC 3463) in the message so that
 * the legacy client, the log and the operator all see the same text.
 */
export class SmtpReplyError extends Error {
  /** Basic reply code (RFC 5321 section 4.2), read by smtp-server. */
  readonly responseCode: number;
  /** Enhanced status code (RFC 3463), e.g. "5.7.1". */
  readonly enhancedCode: string;

  constructor(responseCode: number, enhancedCode: string, text: string, options?: { cause?: unknown }) {
    super(`${enhancedCode} ${text}`, options);
    this.name = 'SmtpReplyError';
    this.responseCode = responseCode;
    this.enhancedCode = enhancedCode;
  }

  /** The full reply line as a client sees it, e.g. "550 5.7.1 Sender not allowed". */
  get reply(): string {
    return `${this.responseCode} ${this.message}`;
  }

  get isTransient(): boolean {
    return this.responseCode >= 400 && this.responseCode < 500;
  }
}

/** EX_CONFIG from sysexits.h: the configuration is wrong. */
export const EXIT_CONFIG = 78;
/** EX_UNAVAILABLE from sysexits.h: something the relay needs is not there (e.g. no OS keychain). */
export const EXIT_UNAVAILABLE = 69;
/** EX_SOFTWARE from sysexits.h: an internal error. */
export const EXIT_SOFTWARE = 70;

/** A configuration problem: the message names the field and what was expected. */
export class ConfigError extends Error {
  readonly exitCode = EXIT_CONFIG;
  readonly problems: readonly string[];

  constructor(file: string, problems: readonly string[]) {
    super(`Invalid configuration in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
