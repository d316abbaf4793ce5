/**
 * A CLI run as root that writes into the data folder gives what it writes to the data folder's
 * owner (the service user), so the service can still read its users, secrets, keys and tokens.
 * Runs only as root (as the CI job does): it needs to create a folder owned by another uid.
 */
import { chown, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MOCK_CLIENT_ID, MOCK_MAILBOX, MOCK_PUBLIC_CLIENT_ID, MOCK_SEND_AS, MOCK_TENANT_ID } from '../mock-tenant/index.js';
import { RELAY_CLI } from '../support/relay-process.js';
import { runProcess } from '../support/run-process.js';
import { FaultFixture } from './fault-fixture.js';

const SERVICE_UID = 65534;
const asRoot = process.platform !== 'win32' && process.getuid?.() === 0;

/** The uid of every file and folder below `dir`, by path. */
async function owners(dir: string): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true })) result.set(entry, (await stat(join(dir, entry))).uid);
  return result;
}

describe.skipIf(!asRoot)('the CLI as root in a data folder owned by the service user', () => {
  let fixture: FaultFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  it('user add, secret set, secret delete and logout (no daemon) leave every file they write to the service user', async () => {
    fixture = await FaultFixture.create();
    await mkdir(fixture.dataDir, { mode: 0o700 });
    await chown(fixture.dataDir, SERVICE_UID, SERVICE_UID);
    const config = fixture.config({
      accounts: [
        { name: 'sage', mailbox: MOCK_MAILBOX, sendAs: [MOCK_SEND_AS], auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID } },
        { name: 'person', mailbox: 'person@contoso.example', auth: { method: 'delegated', tenantId: MOCK_TENANT_ID, clientId: MOCK_PUBLIC_CLIENT_ID } },
      ],
      secrets: { keyStore: 'file' },
      listen: { port: 0, auth: 'required' },
    } as never);
    const configFile = join(fixture.dir, 'relay.json');
    await writeFile(configFile, JSON.stringify(config));
    const cli = (args: string[], input?: string) => runProcess(process.execPath, [RELAY_CLI, ...args, '--config', configFile], { timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });

    expect(await cli(['user', 'add', 'printer', '--account', 'sage'], 'printer-password\n')).toMatchObject({ code: 0 });
    // A folder owned by another user is a service's: without the service running, the key-store
    // commands refuse (exit 69) unless told the caller may work here (--offline).
    expect(await cli(['secret', 'set', '--account', 'sage'], 'app-secret\n')).toMatchObject({ code: 69 });
    expect(await cli(['secret', 'set', '--account', 'sage', '--offline'], 'app-secret\n')).toMatchObject({ code: 0 });
    expect(await cli(['logout', '--account', 'person', '--offline'])).toMatchObject({ code: 0 });

    const written = await owners(fixture.dataDir);
    // What the commands wrote is there (so the check below covers it), and none of it is root's.
    expect([...written.keys()]).toEqual(expect.arrayContaining(['users.json', 'secrets', 'secrets/sage.client-secret.sealed', 'keys']));
    expect([...written].filter(([, uid]) => uid !== SERVICE_UID)).toEqual([]);

    expect(await cli(['secret', 'delete', '--account', 'sage'])).toMatchObject({ code: 0 });
    expect([...(await owners(fixture.dataDir))].filter(([, uid]) => uid !== SERVICE_UID)).toEqual([]);
  });
});
