/**
 * A tiny template renderer: `{{NAME}}` is replaced by the value, escaped for the file's language.
 * A placeholder without a value is an error, so a template and its filler cannot drift apart.
 */
export type Escape = (value: string) => string;

export function renderTemplate(
  template: string,
  values: Readonly<Record<string, string>>,
  escape: Escape,
  /** Fragments our own code built (already escaped), inserted as they are. */
  fragments: Readonly<Record<string, string>> = {},
): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_match, name: string) => {
    const fragment = fragments[name];
    if (fragment !== undefined) return fragment;
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    return escape(value);
  });
}

/** XML 1.0 §2.4 / §3.3.3: escape the five special characters (attribute and text safe). */
export function xmlEscape(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/**
 * One word of a systemd unit setting (systemd.syntax(7), systemd.service(7) "Command lines"):
 * `%` starts a specifier and `$` an environment substitution, so both are doubled; a value with
 * a space, quote or backslash is double-quoted with C-style escapes. Newlines cannot appear.
 */
export function systemdWord(value: string): string {
  if (/[\n\r]/.test(value)) throw new Error(`a systemd setting cannot hold a line break: ${JSON.stringify(value)}`);
  const literal = value.replaceAll('%', '%%').replaceAll('$', '$$$$');
  if (/^[\w@+=:,./-]+$/.test(literal.replaceAll('%%', '').replaceAll('$$', ''))) return literal;
  return `"${literal.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
