/**
 * A throw-away certificate authority and a server certificate it signed, made at run time,
 * so that the mock tenant speaks real TLS and clients verify it the way they verify
 * Microsoft's (rejectUnauthorized stays on; only the CA is added).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TestCertificates {
  /** The CA certificate (PEM) that clients add to `ca`. */
  readonly caPem: string;
  /** The server certificate (PEM), valid for localhost and 127.0.0.1. */
  readonly certPem: string;
  /** The server's private key (PEM). */
  readonly keyPem: string;
}

/** Clients check the name they connected to against subjectAltName (RFC 6125 section 6). */
const SERVER_NAMES = [
  { type: 2 as const, value: 'localhost' },
  { type: 7 as const, ip: '127.0.0.1' },
];

export async function createTestCertificates(): Promise<TestCertificates> {
  // EC keys: generating them is quick, and TLS 1.2/1.3 servers and Node clients accept them.
  const ca = await generate([{ name: 'commonName', value: 'smtp-oauth-relay mock tenant CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: SERVER_NAMES },
    ],
  });
  return { caPem: ca.cert, certPem: server.cert, keyPem: server.private };
}

/** Writes ca.pem into `dir` (created if needed) and returns its path. */
export async function writeCaFile(certificates: TestCertificates, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'ca.pem');
  await writeFile(file, certificates.caPem);
  return file;
}
