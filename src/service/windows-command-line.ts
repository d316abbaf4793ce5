/**
 * One Windows command line from words, quoted so that CommandLineToArgvW (and the C runtime)
 * give the same words back: backslashes are literal unless they come before a quote
 * ("Parsing C command-line arguments", Microsoft Learn). The service host quotes the same way
 * (windows/service-host.c, append_quoted).
 */
export function windowsArg(word: string): string {
  // Nothing to protect: as it is (what an administrator reads in services.msc stays plain).
  if (/^[^\s"]+$/.test(word)) return word;
  let quoted = '"';
  let backslashes = 0;
  for (const char of word) {
    if (char === '\\') {
      backslashes += 1;
      continue;
    }
    quoted += char === '"' ? '\\'.repeat(backslashes * 2 + 1) : '\\'.repeat(backslashes);
    quoted += char;
    backslashes = 0;
  }
  return `${quoted}${'\\'.repeat(backslashes * 2)}"`;
}

export function windowsCommandLine(words: readonly string[]): string {
  return words.map(windowsArg).join(' ');
}
