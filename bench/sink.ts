/**
 * The relayhost of the Postfix reference: plain SMTP on 127.0.0.1, no TLS, no AUTH, every
 * message read to its end and dropped (only counted). Postfix cannot sign in to the mock
 * Exchange (XOAUTH2), so this stands in for it; it runs in the bench process like the mock.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface PlainSink {
  readonly port: number;
  readonly count: number;
  close(): Promise<void>;
}

export async function startPlainSink(): Promise<PlainSink> {
  let count = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    size: 64 * 1024 * 1024,
    onData(stream, _session, callback) {
      stream.on('end', () => {
        count += 1;
        callback();
      });
      stream.resume();
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    get count() {
      return count;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
