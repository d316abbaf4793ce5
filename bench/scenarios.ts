/**
 * The four submission scenarios: one connection per message or one reused connection, with
 * 1 or N concurrent clients. Each client takes the next message number from a shared counter
 * until `count` messages were sent, so all clients finish together.
 *
 * Latency per message, measured with process.hrtime.bigint():
 *   - per connection: from the connect() call to the "250 ... queued as" reply (greeting,
 *     EHLO, MAIL, RCPT, DATA and the body included), QUIT after the clock stops;
 *   - reused: from sending MAIL FROM to the "250 ... queued as" reply; the next MAIL FROM
 *     follows at once (a 250 to DATA ends the transaction, RFC 5321 4.1.1.4, no RSET needed).
 */
import { BenchSmtpClient, expectCode } from './smtp-client.js';
import { RECIPIENT, SENDER } from './messages.js';

export type ConnectionMode = 'per-message' | 'reused';

export interface Scenario {
  readonly name: string;
  readonly mode: ConnectionMode;
  readonly clients: number;
}

export interface ScenarioRun {
  readonly latenciesNs: bigint[];
  readonly elapsedNs: bigint;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'new connection per message, 1 client', mode: 'per-message', clients: 1 },
  { name: 'new connection per message, 8 clients', mode: 'per-message', clients: 8 },
  { name: 'reused connection, 1 client', mode: 'reused', clients: 1 },
  { name: 'reused connection, 8 clients', mode: 'reused', clients: 8 },
];

export async function runScenario(scenario: Scenario, port: number, message: Buffer, count: number): Promise<ScenarioRun> {
  const latenciesNs: bigint[] = [];
  let taken = 0;
  const take = (): boolean => (taken < count ? (taken += 1, true) : false);
  const client = scenario.mode === 'per-message' ? perMessageClient : reusedClient;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: scenario.clients }, () => client(port, message, take, latenciesNs)));
  return { latenciesNs, elapsedNs: process.hrtime.bigint() - started };
}

async function perMessageClient(port: number, message: Buffer, take: () => boolean, latencies: bigint[]): Promise<void> {
  while (take()) {
    const started = process.hrtime.bigint();
    const client = await BenchSmtpClient.open(port);
    try {
      expectCode(await client.reply(), 220, 'greeting');
      expectCode(await client.command('EHLO bench.local'), 250, 'EHLO');
      await transaction(client, message);
      latencies.push(process.hrtime.bigint() - started);
      await client.quit();
    } finally {
      client.destroy();
    }
  }
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
  if (!accepted.last.includes('queued as')) throw new Error(`end of data: unexpected reply "${accepted.last}"`);
}
