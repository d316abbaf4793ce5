/** The names of keychain entries, derived from the data folder (no keychain needed). */
import { describe, expect, it } from 'vitest';
import { keychainEntryName } from './keychain.js';

describe('keychainEntryName', () => {
  it('gives one name for two spellings of one Windows folder', () => {
    const typed = keychainEntryName('c:\\ProgramData\\x', 'client-secret.sage', 'win32');
    expect(keychainEntryName('C:\\PROGRAMDATA\\X\\', 'client-secret.sage', 'win32')).toBe(typed);
    expect(keychainEntryName('\\\\?\\C:\\ProgramData\\X', 'client-secret.sage', 'win32')).toBe(typed);
    expect(keychainEntryName('C:/ProgramData/x', 'client-secret.sage', 'win32')).toBe(typed);
  });

  it('keeps two data folders and two keys apart', () => {
    const name = keychainEntryName('C:\\ProgramData\\x', 'client-secret.sage', 'win32');
    expect(keychainEntryName('C:\\ProgramData\\y', 'client-secret.sage', 'win32')).not.toBe(name);
    expect(keychainEntryName('C:\\ProgramData\\x', 'token-cache.sage', 'win32')).not.toBe(name);
  });

  it('on POSIX, names a folder with or without its trailing slash alike, case kept', () => {
    expect(keychainEntryName('/var/lib/relay/', 'k', 'linux')).toBe(keychainEntryName('/var/lib/relay', 'k', 'linux'));
    expect(keychainEntryName('/var/lib/Relay', 'k', 'linux')).not.toBe(keychainEntryName('/var/lib/relay', 'k', 'linux'));
  });

  it('is a 16-hex-digit folder digest and the key name', () => {
    expect(keychainEntryName('/var/lib/relay', 'token-cache.sage', 'linux')).toMatch(/^[0-9a-f]{16}:token-cache\.sage$/);
  });
});
