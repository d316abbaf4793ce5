/**
 * What the inbound listener needs from its surroundings, declared here so that inbound
 * never imports the spool (src/queue) or the daemon: they satisfy these shapes structurally.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../core/clock.js';
import type { AccountConfig, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { QueueRecord } from '../core/queue-record.js';
import type { SpooledDraft } from '../core/spool-contracts.js';

export type { NewRecordFields, SpooledDraft } from '../core/spool-contracts.js';

export interface MessageSink {
  /**
   * Streams the message to disk and resolves once all of it is written. Rejects (and keeps
   * nothing) when the stream errors, e.g. the client went away, or on a disk error, then
   * with SmtpReplyError 451 4.3.0.
   */
  receive(message: Readable): Promise<SpooledDraft>;
}

export interface InboundOptions {
  listen: Config['listen'];
  accounts: readonly AccountConfig[];
  sink: MessageSink;
  logger: Logger;
  /** Called once per committed message, after the record is in the queue. */
  onAccepted?: (record: QueueRecord) => void;
  /** Time for listen.perClient.messagesPerMinute; the system clock when absent. */
  clock?: Clock;
  /** Holds users.json and the generated TLS certificate (tls/); without it nobody can AUTH. */
  dataDir?: string;
}

export interface InboundServer {
  /** Where the listener is bound; the port is the real one when 0 was configured. */
  readonly address: { host: string; port: number };
  /** The implicit TLS listener (listen.tls.implicitTlsPort), when there is one. */
  readonly implicitTlsAddress?: { host: string; port: number } | undefined;
  /** From now on new connections get `421 4.3.2` and are closed; sessions in progress finish. */
  stopAccepting(): void;
  /**
   * Lets messages in DATA finish (within the grace) while new connections still hear 421, tells
   * idle sessions 421, then stops listening. Idempotent.
   */
  close(): Promise<void>;
}
