/**
 * Reads header fields out of a header block with the line rules of the upstream path: the
 * block is CRLF-only (line-discipline.ts), a field ends at a CRLF that is not followed by white
 * space, and a CRLF followed by SP or HTAB is folding (RFC 5322 2.2.3). Name and body split at
 * the first colon; white space around the name is ignored (obsolete syntax, RFC 5322 4.5), so
 * "From :" counts as From, as lenient readers take it.
 */

export interface HeaderField {
  /** Lower-cased, trimmed. '' for a line without a colon. */
  readonly name: string;
  /** The field as written, with its folding and its final CRLF. */
  readonly raw: string;
  /** The unfolded body, trimmed. */
  readonly body: string;
}

/** Every field of the block in order. */
export function headerFields(headerBlock: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const raw of headerBlock.split(/(?<=\r\n)(?![ \t])/)) {
    if (raw === '') continue;
    const colon = raw.indexOf(':');
    const name = colon <= 0 ? '' : raw.slice(0, colon).trim().toLowerCase();
    const body = colon <= 0 ? '' : raw.slice(colon + 1).replace(/\r\n(?=[ \t])/g, '').replace(/\r\n$/, '').trim();
    fields.push({ name, raw, body });
  }
  return fields;
}

/** The unfolded bodies of every field called `name` (case-insensitive), in order. */
export function headerFieldValues(headerBlock: string, name: string): string[] {
  const wanted = name.toLowerCase();
  return headerFields(headerBlock)
    .filter((field) => field.name === wanted)
    .map((field) => field.body);
}
