/**
 * The configuration file of every command when --config is absent, resolved once per process:
 * $SMTP_OAUTH_RELAY_CONFIG, else the installed relay's (the installation record names it), else
 * the platform's default path (src/core/default-paths.ts). Commander shows it in --help.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { defaultConfig, type DefaultConfig, type PathContext } from '../core/default-paths.js';
import { readInstallationRecord, type InstallationRecordLookup } from '../core/installation-record.js';

export interface ConfigLookup {
  readonly exists: (path: string) => boolean;
  readonly readRecord: (path: string) => InstallationRecordLookup;
}

const realLookup: ConfigLookup = { exists: existsSync, readRecord: readInstallationRecord };

export function currentPathContext(): PathContext {
  return { platform: process.platform, env: process.env, home: homedir() };
}

export function resolveConfigFile(context: PathContext, lookup: ConfigLookup = realLookup): DefaultConfig {
  const found = defaultConfig(context, lookup.exists);
  if (found.source === 'environment') return found;
  const installed = lookup.readRecord(found.record);
  // The service's configuration may live elsewhere than the default path: the record says where.
  if (installed.found && installed.record !== undefined) return { ...found, file: installed.record.config, source: 'installed' };
  return found;
}

let resolved: string | undefined;

export function defaultConfigFile(): string {
  resolved ??= resolveConfigFile(currentPathContext()).file;
  return resolved;
}
