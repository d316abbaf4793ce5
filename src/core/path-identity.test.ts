import { describe, expect, it } from 'vitest';
import { canonicalPath } from './path-identity.js';

describe('canonicalPath on Windows', () => {
  const same = (a: string, b: string): void => expect(canonicalPath(a, 'win32')).toBe(canonicalPath(b, 'win32'));

  it('folds case, turns / into \\ and drops trailing separators', () => {
    expect(canonicalPath('c:\\ProgramData\\smtp-oauth-relay\\data', 'win32')).toBe('C:\\PROGRAMDATA\\SMTP-OAUTH-RELAY\\DATA');
    same('c:\\ProgramData\\x', 'C:\\PROGRAMDATA\\X\\');
    same('C:/ProgramData/x/', 'c:\\programdata\\x');
    same('C:\\ProgramData\\.\\y\\..\\x\\\\', 'C:\\ProgramData\\x');
  });

  it('removes the \\\\?\\ and \\\\?\\UNC\\ prefixes', () => {
    same('\\\\?\\C:\\ProgramData\\x', 'C:\\ProgramData\\x');
    same('\\\\?\\UNC\\server\\share\\relay', '\\\\SERVER\\Share\\relay\\');
    expect(canonicalPath('\\\\?\\unc\\server\\share\\relay', 'win32')).toBe('\\\\SERVER\\SHARE\\RELAY');
  });

  it('keeps the separator of a drive root, which would otherwise mean the current folder of that drive', () => {
    expect(canonicalPath('c:\\', 'win32')).toBe('C:\\');
    expect(canonicalPath('c:/', 'win32')).toBe('C:\\');
  });

  it('does not expand a letter whose upper case is longer (NTFS keeps ß)', () => {
    expect(canonicalPath('C:\\Straße', 'win32')).toBe('C:\\STRAßE');
  });

  it('keeps different folders apart', () => {
    expect(canonicalPath('C:\\ProgramData\\x', 'win32')).not.toBe(canonicalPath('C:\\ProgramData\\x2', 'win32'));
  });
});

describe('canonicalPath on POSIX', () => {
  it('resolves and drops a trailing slash, keeping case', () => {
    expect(canonicalPath('/var/lib/smtp-oauth-relay/', 'linux')).toBe('/var/lib/smtp-oauth-relay');
    expect(canonicalPath('/var/lib/../lib/Relay//', 'darwin')).toBe('/var/lib/Relay');
    expect(canonicalPath('/', 'linux')).toBe('/');
    expect(canonicalPath('/Var/x', 'linux')).not.toBe(canonicalPath('/var/x', 'linux'));
  });

  // The expectation is built from a POSIX working directory; on a Windows host the win32 cases cover it.
  it.skipIf(process.platform === 'win32')('makes a relative path absolute', () => {
    expect(canonicalPath('data', 'linux')).toBe(`${process.cwd()}/data`);
  });
});
