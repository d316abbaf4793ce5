/**
 * The Windows account the service runs as. Credential Manager and DPAPI are per account, so the
 * account decides whose keychain holds the relay's keys: `login` and `secret set` go through
 * the running service, so they always land in the service's own store, whichever it is.
 *
 * Default: the virtual account `NT SERVICE\smtp-oauth-relay` — created and managed by Windows for
 * this one service, no password, its own profile and credential store, and none of
 * LocalSystem's power over the machine (least privilege; "Service Accounts", Microsoft Learn:
 * https://learn.microsoft.com/windows/security/identity-protection/access-control/service-accounts).
 */
import { SERVICE_NAME } from './service-manager.js';

export const VIRTUAL_ACCOUNT = `NT SERVICE\\${SERVICE_NAME}`;

export interface WindowsAccount {
  /** As given, for messages. */
  readonly name: string;
  /** The name icacls grants the folder to. */
  readonly aclName: string;
  /** WinSW's <serviceaccount> element, or '' for LocalSystem (WinSW's default). */
  readonly serviceAccountXml: string;
  /** A real user's password is asked by WinSW itself (`install /p`), never on argv or in the XML. */
  readonly needsPassword: boolean;
}

export function windowsAccount(name: string, xmlEscape: (value: string) => string): WindowsAccount {
  const lower = name.toLowerCase();
  if (lower === 'localsystem' || lower === 'nt authority\\system') {
    return { name, aclName: 'SYSTEM', serviceAccountXml: '', needsPassword: false };
  }
  const parts = splitAccount(name);
  if (lower === 'localservice' || lower === 'nt authority\\localservice') {
    return { name, aclName: 'NT AUTHORITY\\LocalService', serviceAccountXml: accountXml('NT AUTHORITY', 'LocalService', xmlEscape), needsPassword: false };
  }
  if (parts.domain.toLowerCase() === 'nt service') {
    return { name, aclName: name, serviceAccountXml: accountXml('NT SERVICE', parts.user, xmlEscape), needsPassword: false };
  }
  // A real account: WinSW asks for it on the console; the XML names no one.
  return { name, aclName: name, serviceAccountXml: '', needsPassword: true };
}

function splitAccount(name: string): { domain: string; user: string } {
  const slash = name.indexOf('\\');
  if (slash < 0) return { domain: '.', user: name };
  return { domain: name.slice(0, slash), user: name.slice(slash + 1) };
}

function accountXml(domain: string, user: string, xmlEscape: (value: string) => string): string {
  return `  <serviceaccount>\n    <domain>${xmlEscape(domain)}</domain>\n    <user>${xmlEscape(user)}</user>\n  </serviceaccount>\n`;
}
