/**
 * Reads header fields out of a header block (RFC 5322 2.2): unfolds continuation lines
 * (2.2.3: a line break followed by white space is part of the field), splits name and body
 * at the first colon, and accepts white space before the colon (obsolete syntax, 4.5).
 */

/** The unfolded bodies of every field called `name` (case-insensitive), in order. */
export function headerFieldValues(headerBlock: string, name: string): string[] {
  const wanted = name.toLowerCase();
  const unfolded = headerBlock.replace(/\r?\n(?=[ \t])/g, '');
  const values: string[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (line.slice(0, colon).trimEnd().toLowerCase() !== wanted) continue;
    values.push(line.slice(colon + 1).trim());
  }
  return values;
}
