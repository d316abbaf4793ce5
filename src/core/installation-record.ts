/**
 * The installation record: a small JSON file (no secret) that says "a service runs the relay
 * from this configuration and data folder, as this account". `service install` writes it into
 * the install folder (src/core/default-paths.ts), `service uninstall` removes it; the MSI may
 * ship the same file. Commands use it twice:
 *
 * - without --config they follow it to the installed configuration, wherever it is;
 * - `secret set`, `login` and `logout` refuse to store keys in the caller's own keychain when no
 *   daemon answers but a service owns that data folder: the service account could not read them
 *   (Credential Manager and DPAPI are per account), so the service must do it.
 *
 * Format (schemaVersion 1):
 *   { "schemaVersion": 1, "service": "smtp-oauth-relay", "manager": "systemd" | "windows" | "launchd",
 *     "account": "...", "config": "<absolute path>", "dataDir": "<absolute path>", "installedAt": "<ISO time>" }
 * Fields a later version adds are ignored.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const recordSchema = z.looseObject({
  schemaVersion: z.literal(1),
  service: z.string(),
  manager: z.enum(['systemd', 'windows', 'launchd']),
  account: z.string(),
  config: z.string(),
  dataDir: z.string(),
  installedAt: z.string(),
});

export type InstallationRecord = z.infer<typeof recordSchema>;

export type InstallationRecordLookup =
  | { readonly found: false }
  | { readonly found: true; readonly record: InstallationRecord }
  /** There, but this account may not read it (it belongs to the service) or it is damaged. */
  | { readonly found: true; readonly record?: undefined; readonly problem: string };

export function formatInstallationRecord(record: InstallationRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

export function readInstallationRecord(path: string): InstallationRecordLookup {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return { found: false };
    return { found: true, problem: `${path} cannot be read: ${(error as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { found: true, problem: `${path} is not valid JSON: ${(error as Error).message}` };
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) return { found: true, problem: `${path} is not an installation record: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  return { found: true, record: parsed.data };
}
