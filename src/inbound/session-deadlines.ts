/**
 * Deadlines no trickle of bytes can extend (listen.connections): a whole session may last
 * sessionSeconds, and one message dataSeconds from DATA to its final dot. smtp-server's idle
 * timeout restarts with every byte, so before these a client sending one byte every 15 seconds
 * held its connection for ever (slowloris), and enough of them held every slot.
 *
 * At a deadline the client hears "421 4.4.2 ..." (RFC 5321 3.8: the server may close with 421;
 * RFC 3463 4.4.2: bad connection) and the connection closes. A message still in DATA is
 * destroyed, so the intake discards what it spooled: nothing was acknowledged, nothing is lost,
 * and the client sends it again. RFC 5321 4.5.3.2.6 lets a client wait 10 minutes for the reply
 * to the final dot; the DATA deadline of 10 minutes by default matches it.
 *
 * Where we cut in: armed from PromptGreetingServer.connect (prompt-greeting.ts) with the
 * connection smtp-server built; DATA is seen through the parser's startDataMode (the public
 * method handler_DATA calls), on every parser of the connection (parser-hooks.ts).
 */
import type { Clock } from '../core/clock.js';
import { inboundReplyLine } from '../core/inbound-replies.js';
import { onEveryParser, type Connection } from './parser-hooks.js';

export interface DeadlineLimits {
  readonly sessionSeconds: number;
  readonly dataSeconds: number;
}

export function enforceDeadlines(connection: Connection, limits: DeadlineLimits, clock: Clock): void {
  let dataStream: { destroy(err?: Error): void; listenerCount(event: string): number } | undefined;
  let cancelData = (): void => undefined;
  const expire = (reply: { code: number; text: string }): void => {
    if (connection._closing || connection._closed) return;
    connection.send(reply.code, reply.text);
    connection.close();
    // The intake sees the stream end in error and discards the draft (message-intake.ts).
    const stream = dataStream;
    dataStream = undefined;
    stream?.destroy(stream.listenerCount('error') > 0 ? new Error(reply.text) : undefined);
  };
  const cancelSession = clock.setTimer(limits.sessionSeconds * 1000, () => expire(inboundReplyLine('session-deadline', limits.sessionSeconds)));

  onEveryParser(connection, (parser) => {
    const startDataMode = parser.startDataMode;
    parser.startDataMode = function startTimedDataMode(this: typeof parser, ...args: Parameters<typeof startDataMode>) {
      const stream = startDataMode.apply(this, args);
      cancelData();
      dataStream = stream;
      cancelData = clock.setTimer(limits.dataSeconds * 1000, () => expire(inboundReplyLine('data-deadline', limits.dataSeconds)));
      stream.once('end', () => {
        cancelData();
        dataStream = undefined;
      });
      return stream;
    };
  });

  connection._socket.once('close', () => {
    cancelSession();
    cancelData();
  });
}
