/**
 * The relayhost of the Postfix reference: SMTP on 127.0.0.1 with STARTTLS (the mock tenant's
 * test certificate, as the mock Exchange uses), no AUTH, every message read to its end and
 * dropped (only counted). Postfix cannot sign in to the mock Exchange (XOAUTH2), so this
 * stands in for it; it runs in the bench process like the mock, and Postfix must use TLS to
 * it, so that both relays pay for encrypting what they deliver.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { TestCertificates } from '../test/mock-tenant/certs.js';

export interface PlainSink {
  readonly port: number;
  readonly count: number;
  close(): Promise<void>;
}

export async function startPlainSink(certificates: TestCertificates): Promise<PlainSink> {
  let count = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    key: certificates.keyPem,
    cert: certificates.certPem,
    minVersion: 'TLSv1.2',
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
