/**
 * The submission scenarios: one connection per message (as Sage 100 sends: connect, EHLO,
 * optionally AUTH LOGIN, one message, QUIT) or one reused connection, with 1 or N concurrent
 * clients. Each client takes the next message number from a shared counter until `count`
 * messages were sent, so all clients finish together.
 *
 * Latency per message, measured with process.hrtime.bigint():
 *   - per connection: from the connect() call to the "250 ... queued as" reply (greeting,
 *     EHLO, AUTH, MAIL, RCPT, DATA and the body included), QUIT after the clock stops; each
 *     phase is timed as well (PHASES), so that the table can say where the time goes;
 *   - reused: from sending MAIL FROM to the "250 ... queued as" reply; the next MAIL FROM
 *     follows at once (a 250 to DATA ends the transaction, RFC 5321 4.1.1.4, no RSET needed).
 */
import { BenchSmtpClient, expectCode } from './smtp-client.js';
import { RECIPIENT, SENDER } from './messages.js';

export type ConnectionMode = 'per-message' | 'reused';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export interface Scenario {
  readonly key: string;
  readonly name: string;
  readonly mode: ConnectionMode;
  readonly clients: number;
  /** AUTH LOGIN on every connection (ours only: the Postfix reference has no SASL). */
  readonly auth: boolean;
}

/** Phases of a per-connection submission, in order; each is the time since the previous mark. */
export const PHASES = ['connect', 'greeting', 'ehlo', 'auth', 'mail', 'rcpt', 'data', 'body'] as const;
export type Phase = (typeof PHASES)[number];

export interface ScenarioRun {
  readonly latenciesNs: bigint[];
  readonly phasesNs: Record<Phase, bigint[]>;
  readonly elapsedNs: bigint;
}

export const SCENARIOS: readonly Scenario[] = [
  { key: 'fresh-1', name: 'new connection per message, 1 client', mode: 'per-message', clients: 1, auth: false },
  { key: 'fresh-auth-1', name: 'new connection + AUTH LOGIN, 1 client', mode: 'per-message', clients: 1, auth: true },
  { key: 'fresh-8', name: 'new connection per message, 8 clients', mode: 'per-message', clients: 8, auth: false },
  { key: 'fresh-auth-8', name: 'new connection + AUTH LOGIN, 8 clients', mode: 'per-message', clients: 8, auth: true },
  { key: 'reused-1', name: 'reused connection, 1 client', mode: 'reused', clients: 1, auth: false },
  { key: 'reused-8', name: 'reused connection, 8 clients', mode: 'reused', clients: 8, auth: false },
];

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export function emptyPhases(): Record<Phase, bigint[]> {
  return Object.fromEntries(PHASES.map((phase) => [phase, [] as bigint[]])) as unknown as Record<Phase, bigint[]>;
}

export async function runScenario(
  scenario: Scenario,
  port: number,
  message: Buffer,
  count: number,
  credentials?: Credentials,
): Promise<ScenarioRun> {
  const latenciesNs: bigint[] = [];
  const phasesNs = emptyPhases();
  let taken = 0;
  const take = (): boolean => (taken < count ? ((taken += 1), true) : false);
  const auth = scenario.auth ? credentials : undefined;
  if (scenario.auth && auth === undefined) throw new Error(`${scenario.name} needs credentials`);
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: scenario.clients }, () =>
      scenario.mode === 'per-message' ? perMessageClient(port, message, take, latenciesNs, phasesNs, auth) : reusedClient(port, message, take, latenciesNs),
    ),
  );
  return { latenciesNs, phasesNs, elapsedNs: process.hrtime.bigint() - started };
}

/** One fresh-connection submission; returns its latency, and each phase's into `phases`. */
export async function submitOnce(port: number, message: Buffer, phases?: Record<Phase, bigint[]>, auth?: Credentials): Promise<bigint> {
  const started = process.hrtime.bigint();
  let mark = started;
  const lap = (phase: Phase): void => {
    const now = process.hrtime.bigint();
    phases?.[phase].push(now - mark);
    mark = now;
  };
  const client = await BenchSmtpClient.open(port);
  try {
    lap('connect');
    expectCode(await client.reply(), 220, 'greeting');
    lap('greeting');
    expectCode(await client.command('EHLO bench.local'), 250, 'EHLO');
    lap('ehlo');
    if (auth !== undefined) {
      expectCode(await client.command('AUTH LOGIN'), 334, 'AUTH LOGIN');
      expectCode(await client.command(b64(auth.user)), 334, 'AUTH LOGIN user');
      expectCode(await client.command(b64(auth.password)), 235, 'AUTH LOGIN password');
      lap('auth');
    }
    expectCode(await client.command(`MAIL FROM:<${SENDER}>`), 250, 'MAIL FROM');
    lap('mail');
    expectCode(await client.command(`RCPT TO:<${RECIPIENT}>`), 250, 'RCPT TO');
    lap('rcpt');
    expectCode(await client.command('DATA'), 354, 'DATA');
    lap('data');
    const accepted = expectCode(await client.sendData(message), 250, 'end of data');
    lap('body');
    if (!/queued as/i.test(accepted.last)) throw new Error(`end of data: unexpected reply "${accepted.last}"`);
    const latency = process.hrtime.bigint() - started;
    await client.quit();
    return latency;
  } finally {
    client.destroy();
  }
}

async function perMessageClient(
  port: number,
  message: Buffer,
  take: () => boolean,
  latencies: bigint[],
  phases: Record<Phase, bigint[]>,
  auth: Credentials | undefined,
): Promise<void> {
  while (take()) latencies.push(await submitOnce(port, message, phases, auth));
}

async function reusedClient(port: number, message: Buffer, take: () => boolean, latencies: bigint[]): Promise<void> {
  const client = await BenchSmtpClient.open(port);
  try {
    expectCode(await client.reply(), 220, 'greeting');
    expectCode(await client.command('EHLO bench.local'), 250, 'EHLO');
    while (take()) {
      const started = process.hrtime.bigint();
      await transaction(client, message);
      latencies.push(process.hrtime.bigint() - started);
    }
    await client.quit();
  } finally {
    client.destroy();
  }
}

/** MAIL, RCPT, DATA, the message: one accepted message or an exception. */
async function transaction(client: BenchSmtpClient, message: Buffer): Promise<void> {
  expectCode(await client.command(`MAIL FROM:<${SENDER}>`), 250, 'MAIL FROM');
  expectCode(await client.command(`RCPT TO:<${RECIPIENT}>`), 250, 'RCPT TO');
  expectCode(await client.command('DATA'), 354, 'DATA');
  const accepted = expectCode(await client.sendData(message), 250, 'end of data');
  if (!/queued as/i.test(accepted.last)) throw new Error(`end of data: unexpected reply "${accepted.last}"`);
}
