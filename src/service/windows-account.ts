/**
 * The Windows account the service runs as. Credential Manager and DPAPI are per account, so the
 * account decides whose keychain holds the relay's keys: `login` and `secret set` go through
 * the running service, so they always land in the service's own store, whichever it is.
 *
 * Default: the virtual account `NT SERVICE\smtp-oauth-relay` — created and managed by Windows for
 * this one service, no password, its own profile and credential store, and none of
 * LocalSystem's power over the machine (least privilege; "Service Accounts", Microsoft Learn:
 * https://learn.microsoft.com/windows/security/identity-protection/access-control/service-accounts).
 *
 * A password never goes on a command line (other processes can read it): accounts without one
 * (virtual, LocalService, LocalSystem, a group managed service account DOMAIN\name$) are set by
 * `sc create obj=`; a user account with a password is refused with the way to set it by hand.
 */
import { SERVICE_NAME } from './service-manager.js';

export const VIRTUAL_ACCOUNT = `NT SERVICE\\${SERVICE_NAME}`;

export interface WindowsAccount {
  /** As given, for messages. */
  readonly name: string;
  /** What `sc create obj=` takes. */
  readonly scName: string;
  /** The virtual account of this service (sc sidtype unrestricted; its SID is computed). */
  readonly virtual: boolean;
}

export class AccountNeedsPasswordError extends Error {
  constructor(name: string) {
    super(
      `"${name}" needs its password, which this command never puts on a command line. Install with the default account ` +
        `(${VIRTUAL_ACCOUNT}) or a group managed service account (DOMAIN\\name$), or install, then set the account and its ` +
        'password in services.msc (smtp-oauth-relay, Log On tab) and restart the service.',
    );
    this.name = 'AccountNeedsPasswordError';
  }
}

export function windowsAccount(name: string): WindowsAccount {
  const lower = name.toLowerCase();
  if (lower === 'localsystem' || lower === 'nt authority\\system') return { name, scName: 'LocalSystem', virtual: false };
  if (lower === 'localservice' || lower === 'nt authority\\localservice') return { name, scName: 'NT AUTHORITY\\LocalService', virtual: false };
  if (lower === 'networkservice' || lower === 'nt authority\\networkservice') return { name, scName: 'NT AUTHORITY\\NetworkService', virtual: false };
  if (lower === VIRTUAL_ACCOUNT.toLowerCase()) return { name, scName: VIRTUAL_ACCOUNT, virtual: true };
  if (lower.startsWith('nt service\\')) throw new Error(`"${name}" is the virtual account of another service; this one runs as ${VIRTUAL_ACCOUNT}`);
  // A gMSA: Windows fetches its password from Active Directory itself.
  if (name.endsWith('$')) return { name, scName: name, virtual: false };
  throw new AccountNeedsPasswordError(name);
}
