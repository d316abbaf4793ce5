/**
 * Standing warnings about how the relay is set up, said at every start (log and OS log) and in
 * `status` and `doctor` until fixed: an environment that weakens TLS, a client secret written in
 * the configuration, a configuration file other users can read or change. See docs/security.md.
 */
import { stat } from 'node:fs/promises';

export interface ConfigForWarnings {
  readonly dataDir: string;
  readonly accounts: ReadonlyArray<{ readonly name: string; readonly auth: { readonly method: string; readonly clientSecret?: string | undefined } }>;
}

/** What in this process's environment weakens TLS. */
export function environmentWarnings(env: NodeJS.ProcessEnv): string[] {
  const warnings: string[] = [];
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    warnings.push(
      'NODE_TLS_REJECT_UNAUTHORIZED=0 is set in the environment: it turns certificate checks off for TLS connections that do not set their own ' +
        '(the relay keeps them on towards the identity provider and Exchange); remove it from the service\'s environment.',
    );
  }
  const extraCa = env.NODE_EXTRA_CA_CERTS;
  if (extraCa !== undefined && extraCa !== '') {
    warnings.push(
      `NODE_EXTRA_CA_CERTS=${extraCa} is set in the environment: Node trusts every CA in that file for this process's TLS connections ` +
        '(the identity provider\'s client ignores it); give a CA the relay must trust in identity.caFile or upstream.caFile and remove the variable.',
    );
  }
  return warnings;
}

/** Accounts that keep their client secret in the configuration file itself. */
export function inlineSecretWarnings(file: string, config: ConfigForWarnings): string[] {
  return config.accounts
    .filter((account) => account.auth.method === 'client-credentials' && account.auth.clientSecret !== undefined)
    .map(
      (account) =>
        `Account "${account.name}" keeps its client secret in ${file} (auth.clientSecret): whoever can read that file, or a copy or backup of it, has the secret; ` +
        `store it with "smtp-oauth-relay secret set --account ${account.name}" (or use auth.clientSecretEnv) and remove it from the file.`,
    );
}

/**
 * A configuration file others can read or change (POSIX modes). Group read is fine when the
 * group is the data folder's (the service's group: `service install` sets root:<service> 0640).
 * Windows has no mode bits in Node (ACLs need native code): not checked there, see docs/security.md.
 */
export function fileModeWarnings(file: string, info: { mode: number; gid: number }, serviceGid: number | undefined, platform: NodeJS.Platform = process.platform): string[] {
  if (platform === 'win32') return [];
  const mode = info.mode & 0o777;
  const octal = mode.toString(8).padStart(3, '0');
  if ((mode & 0o022) !== 0) return [`${file} can be changed by users other than its owner (mode ${octal}): chmod 600 ${file} (or 640 with the service's group).`];
  const groupReadOk = serviceGid !== undefined && info.gid === serviceGid;
  if ((mode & 0o004) !== 0 || ((mode & 0o040) !== 0 && !groupReadOk)) {
    return [`${file} can be read by other users (mode ${octal}): it names the tenant, the mailboxes and maybe a secret; chmod 600 ${file} (or 640 with the service's group).`];
  }
  return [];
}

/** Everything about the configuration file: inline secrets and its mode. */
export async function configFileWarnings(file: string, config: ConfigForWarnings, platform: NodeJS.Platform = process.platform): Promise<string[]> {
  const warnings = inlineSecretWarnings(file, config);
  if (platform === 'win32') return warnings;
  try {
    const info = await stat(file);
    const serviceGid = await stat(config.dataDir).then((folder) => folder.gid, () => undefined);
    warnings.push(...fileModeWarnings(file, info, serviceGid, platform));
  } catch {
    // A file that cannot be stat-ed now was read a moment ago; nothing to say about its mode.
  }
  return warnings;
}
