/** Starts a real inbound listener on an ephemeral port over a FileSink in a temp folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/core/clock.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { QueueRecord } from '../../src/core/queue-record.js';
import { startInbound } from '../../src/inbound/inbound-server.js';
import type { InboundServer } from '../../src/inbound/types.js';
import { testConfig } from './config.js';
import { FileSink } from './file-sink.js';
import { SmtpWire } from '../support/smtp-wire.js';

export interface Harness {
  readonly server: InboundServer;
  readonly sink: FileSink;
  readonly accepted: QueueRecord[];
  /** A raw client; closed by stop(). */
  wire(): Promise<SmtpWire>;
  stop(): Promise<void>;
}

export async function startHarness(
  listen: Record<string, unknown> = {},
  logger: Logger = silentLogger(),
  options: { clock?: Clock; dataDir?: string } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'inbound-'));
  const sink = await FileSink.create(dir);
  const config = testConfig(listen);
  const accepted: QueueRecord[] = [];
  const server = await startInbound({
    listen: config.listen,
    accounts: config.accounts,
    sink,
    logger,
    onAccepted: (record) => accepted.push(record),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
  });
  const wires: SmtpWire[] = [];
  return {
    server,
    sink,
    accepted,
    async wire() {
      const wire = await SmtpWire.open(server.address.port, server.address.host);
      wires.push(wire);
      return wire;
    },
    async stop() {
      for (const wire of wires) wire.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
