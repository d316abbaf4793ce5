/**
 * One spelling per folder, for names derived from a path (keychain entries, the control pipe):
 * two spellings of the same folder must give the same name, or one command talks to a relay or
 * a key that is not there (`c:\ProgramData\...` and `C:\PROGRAMDATA\...` are one folder).
 *
 * Windows (https://learn.microsoft.com/windows/win32/fileio/naming-a-file): names are
 * case-insensitive, `/` and `\` both separate, `\\?\C:\x` is `C:\x` without the length limit and
 * `\\?\UNC\server\share` is `\\server\share`. NTFS compares names by upper-casing each UTF-16
 * unit through its upcase table; toUpperCase of one unit is its closest equivalent, and units
 * whose upper case is longer (ß) stay as they are, as NTFS keeps them.
 *
 * POSIX: resolved to an absolute path (no `.`, `..` or trailing `/`); case is kept, since Linux
 * file systems are case-sensitive. Symbolic links are not followed: the folder may not exist yet.
 */
import { posix, win32 } from 'node:path';

const VERBATIM_UNC = /^[\\/]{2}\?[\\/]UNC[\\/]/i;
const VERBATIM = /^[\\/]{2}\?[\\/]/;

export function canonicalPath(path: string, platform: NodeJS.Platform = process.platform): string {
  if (platform !== 'win32') return withoutTrailingSeparator(posix.resolve(path), '/');
  const plain = path.replace(VERBATIM_UNC, '\\\\').replace(VERBATIM, '');
  const absolute = win32.resolve(plain.replace(/\//g, '\\'));
  return upcase(withoutTrailingSeparator(absolute, '\\'));
}

/** `C:\x\` -> `C:\x`; a root (`C:\`, `/`) keeps its separator, or it would name another folder. */
function withoutTrailingSeparator(path: string, separator: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === separator && !isRoot(path.slice(0, end))) end -= 1;
  return path.slice(0, end);
}

function isRoot(path: string): boolean {
  return path === '/' || path === '\\' || /^[A-Za-z]:\\$/.test(path);
}

function upcase(path: string): string {
  let result = '';
  for (let i = 0; i < path.length; i += 1) {
    const unit = path.charAt(i);
    const upper = unit.toUpperCase();
    result += upper.length === 1 ? upper : unit;
  }
  return result;
}
