/**
 * `secret set`, `login` and `logout` normally ask the running relay to store keys and tokens,
 * because Windows Credential Manager, DPAPI, the macOS Keychain and a 0600 key file all belong
 * to one OS account: what an administrator stores in their own keychain, a service running as
 * `NT SERVICE\smtp-oauth-relay` (or the `smtp-oauth-relay` system user) cannot read
 * (https://learn.microsoft.com/windows/win32/secauthn/credentials-management). When no relay
 * answers, doing the work here is right only if this account is the relay's. These rules say
 * when it is not, so the command refuses and says how to start the service instead:
 *
 * 1. an installation record (written by `service install` or the MSI) names this data folder;
 * 2. the data folder is the platform's service data folder (src/core/default-paths.ts), which
 *    `service install` and the MSI give to the service account;
 * 3. on POSIX, the data folder belongs to another user (the service's system user).
 *
 * `--offline` overrides them, for a service that runs as the administrator's own account.
 */
import { statSync } from 'node:fs';
import { defaultConfig, installLocations, systemLocation, type PathContext } from '../core/default-paths.js';
import { EXIT_UNAVAILABLE } from '../core/errors.js';
import { readInstallationRecord, type InstallationRecordLookup } from '../core/installation-record.js';
import { canonicalPath } from '../core/path-identity.js';

export interface GuardFacts {
  readonly context: PathContext;
  readonly readRecord: (path: string) => InstallationRecordLookup;
  /** Owner uid of a path, undefined when it does not exist (or on Windows). */
  readonly ownerOf: (path: string) => number | undefined;
  /** This process's uid; undefined on Windows. */
  readonly uid: number | undefined;
}

export function currentGuardFacts(context: PathContext): GuardFacts {
  return {
    context,
    readRecord: readInstallationRecord,
    ownerOf: (path) => {
      try {
        return statSync(path).uid;
      } catch {
        return undefined;
      }
    },
    uid: process.getuid?.(),
  };
}

/** Why an installed service owns this data folder, or undefined when this account may use it. */
export function serviceOwnership(dataDir: string, facts: GuardFacts): string | undefined {
  const { context } = facts;
  const folder = canonicalPath(dataDir, context.platform);
  const records = new Set([defaultConfig(context).record, ...installLocations(context).map((location) => location.record)]);
  for (const path of records) {
    const lookup = facts.readRecord(path);
    if (!lookup.found) continue;
    if (lookup.record === undefined) return `a service is installed (${lookup.problem})`;
    if (canonicalPath(lookup.record.dataDir, context.platform) === folder) {
      return `the service installed in ${path} (${lookup.record.manager}, running as ${lookup.record.account}) uses this data folder`;
    }
  }
  const system = systemLocation(context);
  for (const serviceFolder of [system.dataDir, system.folder]) {
    if (isInside(folder, canonicalPath(serviceFolder, context.platform), context.platform)) {
      return `${dataDir} is where the installed service keeps its data`;
    }
  }
  const owner = facts.ownerOf(dataDir);
  if (facts.uid !== undefined && owner !== undefined && owner !== facts.uid) {
    return `${dataDir} belongs to another account (uid ${owner}), the one the relay runs as`;
  }
  return undefined;
}

function isInside(folder: string, parent: string, platform: NodeJS.Platform): boolean {
  const separator = platform === 'win32' ? '\\' : '/';
  return folder === parent || folder.startsWith(parent.endsWith(separator) ? parent : `${parent}${separator}`);
}

/** The refusal: nothing is stored where the service cannot read it. */
export class ServiceNotRunningError extends Error {
  readonly exitCode = EXIT_UNAVAILABLE;

  constructor(endpoint: { toString(): string }, reason: string) {
    super(
      `no relay answers on ${String(endpoint)}, and ${reason}. ` +
        "The relay's keys must be stored by the service itself, in the key store of the account it runs as; this command, running as you, cannot write there. " +
        'Start the service, then run this command again:\n    smtp-oauth-relay service start\n' +
        'Only if the service runs as this same account, add --offline to store it here instead.',
    );
    this.name = 'ServiceNotRunningError';
  }
}

/** Throws ServiceNotRunningError unless this account may do the work itself. */
export function assertMayWorkHere(dataDir: string, endpoint: { toString(): string }, offline: boolean, facts: GuardFacts): void {
  if (offline) return;
  const reason = serviceOwnership(dataDir, facts);
  if (reason !== undefined) throw new ServiceNotRunningError(endpoint, reason);
}
