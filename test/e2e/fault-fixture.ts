/**
 * Shared pieces of the crash and outage tests: a scratch folder with the mock tenant and the real
 * relay process, a legacy client that sends numbered messages over plain SMTP, the `queue` CLI
 * and a look at the spool folders. Everything listens on 127.0.0.1 with ephemeral ports.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { SmtpWire } from '../support/smtp-wire.js';
import { MOCK_SEND_AS, startMockTenant, type MockTenant, type MockTenantOptions, type ReceivedMessage, type RelayConfigInput } from '../mock-tenant/index.js';
import { RELAY_CLI, RelayProcess } from '../support/relay-process.js';

const run = promisify(execFile);

/** What `queue list --json` prints for each message (QueueRecord plus its folder). */
export interface QueueEntry {
  readonly id: string;
  readonly kind: 'message' | 'dsn';
  readonly attempts: number;
  readonly folder: string;
  readonly recipients: ReadonlyArray<{ readonly address: string; readonly status: string }>;
}

export const SENDER = MOCK_SEND_AS;
export const RECIPIENT = 'customer@fabrikam.example';

/** Short delays so retries, pauses and probes happen within a test (all schema values must be positive). */
export const FAST_DELIVERY = { retryDelaysSeconds: [1], throttleBackoffSeconds: [1], holdRetrySeconds: 1, upstreamRetrySeconds: 1, identityRetrySeconds: 1 };

export class FaultFixture {
  private relays: RelayProcess[] = [];

  private constructor(
    readonly dir: string,
    readonly tenant: MockTenant,
  ) {}

  static async create(tenantOptions: MockTenantOptions = {}): Promise<FaultFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'relay-fault-'));
    return new FaultFixture(dir, await startMockTenant(tenantOptions));
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  config(overrides: Partial<RelayConfigInput> = {}): RelayConfigInput {
    return this.tenant.relayConfig(this.dataDir, {
      ...overrides,
      listen: { port: 0, ...overrides.listen },
      delivery: { ...FAST_DELIVERY, ...overrides.delivery },
      log: { file: false, ...overrides.log },
    });
  }

  /** Starts the real relay on the same data folder (again, after a crash). */
  /**
   * The accounts with the client secret read from SMTP_OAUTH_RELAY_SECRET (which startRelay sets)
   * instead of written in the configuration: no standing warning, so status can say OK.
   */
  accountsWithSecretFromEnvironment(): RelayConfigInput['accounts'] {
    return this.config().accounts.map((account) => {
      const { clientSecret: _inline, ...auth } = account.auth as typeof account.auth & { clientSecret?: string };
      return { ...account, auth: { ...auth, clientSecretEnv: 'SMTP_OAUTH_RELAY_SECRET' } as typeof account.auth };
    });
  }

  async startRelay(overrides: Partial<RelayConfigInput> = {}): Promise<RelayProcess> {
    const relay = await RelayProcess.start({ config: this.config(overrides), dir: this.dir, env: { SMTP_OAUTH_RELAY_SECRET: this.tenant.clientSecret } });
    this.relays.push(relay);
    return relay;
  }

  /** `smtp-oauth-relay queue list --json [--failed]` (through the daemon when it runs). */
  async queueList(relay: RelayProcess, failed = false): Promise<QueueEntry[]> {
    const args = [RELAY_CLI, 'queue', 'list', '--config', relay.configFile, '--json', ...(failed ? ['--failed'] : [])];
    const { stdout } = await run(process.execPath, args, { cwd: this.dir });
    return JSON.parse(stdout) as QueueEntry[];
  }

  /** `smtp-oauth-relay queue retry <id>`. */
  async queueRetry(relay: RelayProcess, id: string): Promise<void> {
    await run(process.execPath, [RELAY_CLI, 'queue', 'retry', id, '--config', relay.configFile], { cwd: this.dir });
  }

  /** Names in a spool folder (tmp, queue, failed, quarantine). */
  async spoolFiles(folder: 'tmp' | 'queue' | 'failed' | 'quarantine'): Promise<string[]> {
    return readdir(join(this.dataDir, 'spool', folder)).catch(() => []);
  }

  /** The relays' log lines, one JSON object a line: printed when a test fails. */
  logs(): string {
    return this.relays.map((relay, n) => [`--- relay process ${n + 1}`, ...relay.logs.map((line) => JSON.stringify(line)), ...relay.stderr].join('\n')).join('\n');
  }

  async close(): Promise<void> {
    if (process.env.DUMP_RELAY_LOGS === '1') process.stdout.write(`${this.logs()}\n`);
    for (const relay of this.relays) await relay.kill('SIGKILL');
    await this.tenant.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A small legacy message whose Message-ID names it, so upstream copies can be counted. */
export function legacyMessage(tag: string, body = 'Please find your invoice attached.'): string {
  return [
    `From: Sage 100 <${SENDER}>`,
    `To: ${RECIPIENT}`,
    `Subject: Invoice ${tag}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${messageIdFor(tag)}`,
    '',
    body,
    '',
  ].join('\r\n');
}

export function messageIdFor(tag: string): string {
  return `<${tag}@sage.contoso.example>`;
}

/** The Message-ID header of a message as received upstream. */
export function messageIdOf(message: ReceivedMessage): string | undefined {
  return /^Message-ID:\s*(\S+)/im.exec(message.raw.toString('latin1'))?.[1];
}

/** How many copies of each Message-ID arrived upstream. */
export function copiesById(messages: readonly ReceivedMessage[]): Map<string, number> {
  const copies = new Map<string, number>();
  for (const message of messages) {
    const id = messageIdOf(message) ?? '(none)';
    copies.set(id, (copies.get(id) ?? 0) + 1);
  }
  return copies;
}

/** A legacy program on one connection: EHLO once, then one transaction per message. */
export class LegacyClient {
  private constructor(private readonly wire: SmtpWire) {}

  static async connect(port: number): Promise<LegacyClient> {
    const wire = await SmtpWire.open(port);
    await wire.expect(wire.reply(), 220);
    await wire.expect(wire.command('EHLO sage-server'), 250);
    return new LegacyClient(wire);
  }

  /** Sends one message; resolves with the queue id from "250 2.0.0 queued as <id>". */
  async send(tag: string, from = SENDER, recipients: readonly string[] = [RECIPIENT]): Promise<string> {
    await this.wire.startDataAfterEhlo(from, recipients);
    const stuffed = legacyMessage(tag).replace(/^\./gm, '..');
    this.wire.write(`${stuffed}.\r\n`);
    const reply = await this.wire.expect(this.wire.reply(), 250);
    const id = /queued as (\S+)/.exec(reply.last)?.[1];
    if (id === undefined) throw new Error(`no queue id in "${reply.last}"`);
    return id;
  }

  async quit(): Promise<void> {
    await this.wire.command('QUIT').catch(() => undefined);
    this.wire.close();
  }
}

/** Sends `tags` over `clients` parallel connections; resolves with tag -> queue id. */
export async function sendBatch(port: number, tags: readonly string[], clients: number): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const lanes = Array.from({ length: clients }, (_, lane) => tags.filter((_tag, index) => index % clients === lane));
  await Promise.all(
    lanes.map(async (laneTags) => {
      const client = await LegacyClient.connect(port);
      for (const tag of laneTags) ids.set(tag, await client.send(tag));
      await client.quit();
    }),
  );
  return ids;
}

/** The largest number of `times` (ms) inside any half-open window [t, t + windowMs). */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let busiest = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start += 1;
    busiest = Math.max(busiest, end - start + 1);
  }
  return busiest;
}

/** Polls `condition`: for state outside this process (files, the child's log lines). */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until every acknowledged message (by tag) reached the mock Exchange and the queue is empty. */
export async function waitForAllDelivered(fixture: FaultFixture, tags: readonly string[]): Promise<void> {
  const { upstream } = fixture.tenant;
  await waitUntil('every acknowledged message upstream', () => tags.every((tag) => copiesById(upstream.messages).has(messageIdFor(tag))), 60_000);
  await waitUntil('the queue to drain', async () => (await fixture.spoolFiles('queue')).length === 0);
}

/**
 * Checks the copies each message arrived in: twice for those in flight when a process ended
 * (at-least-once: their DATA had reached Exchange), exactly once for every other.
 */
export function expectCopies(messages: readonly ReceivedMessage[], tags: readonly string[], inFlight: readonly (string | undefined)[] = []): void {
  const copies = copiesById(messages);
  for (const tag of tags) {
    const id = messageIdFor(tag);
    expect({ tag, copies: copies.get(id) }).toEqual({ tag, copies: inFlight.includes(id) ? 2 : 1 });
  }
}
