/**
 * TLS for local clients (STARTTLS, RFC 3207, and implicit TLS, RFC 8314): the configured
 * certificate, or one the relay makes on first start and keeps in <dataDir>/tls/ (key mode
 * 0600). It is self-signed: local programs either do not verify certificates or are told to
 * trust this one (path logged at start). Never smtp-server's built-in certificate, whose
 * private key is public.
 *
 * TLS versions: the default floor is TLS 1.2 (RFC 8996 deprecates 1.0 and 1.1). Old printers
 * may need `minVersion: 'TLSv1'`; OpenSSL 3 then also needs security level 0, because at its
 * default level 1 it refuses the SHA-1 signatures that TLS 1.0/1.1 handshakes use ("no
 * protocols available" / "unsupported protocol"), so we add `@SECLEVEL=0` to the cipher list
 * only in that case (Node docs, "tls: Modifying the default TLS cipher suite").
 */
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../core/config.js';
import { PRIVATE_DIR_MODE, writeFileDurable } from '../core/durable-fs.js';
import { dataPaths } from '../core/data-paths.js';

export type LocalTlsConfig = Config['listen']['tls'];

export interface LocalTlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** Where the certificate came from, for the start-up log. */
  readonly certFile: string;
  readonly generated: boolean;
}

export const GENERATED_CERT_FILE = 'cert.pem';
export const GENERATED_KEY_FILE = 'key.pem';
/** Ten years: a local self-signed certificate that expires is an outage nobody expects. */
const VALIDITY_DAYS = 3650;

/** Whether the listener offers TLS at all. */
export function tlsWanted(tls: LocalTlsConfig): boolean {
  return tls.starttls || tls.implicitTlsPort !== undefined;
}

/** The configured key and certificate, or the generated ones (made now if missing). */
export async function loadLocalTls(tls: LocalTlsConfig, dataDir: string, names: readonly string[]): Promise<LocalTlsMaterial> {
  if (tls.certFile !== undefined && tls.keyFile !== undefined) {
    return { cert: await readFile(tls.certFile, 'utf8'), key: await readFile(tls.keyFile, 'utf8'), certFile: tls.certFile, generated: false };
  }
  const dir = dataPaths(dataDir).tls;
  const certFile = join(dir, GENERATED_CERT_FILE);
  const keyFile = join(dir, GENERATED_KEY_FILE);
  try {
    return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile, generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const made = await generateCertificate(names);
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  // Key first: a certificate without its key would be reused and fail every handshake.
  await writeFileDurable(keyFile, made.key);
  await writeFileDurable(certFile, made.cert);
  return { ...made, certFile, generated: true };
}

/** The names a local client may connect by: the listen name, localhost, loopback, the host name. */
export function certificateNames(listenName: string | undefined): string[] {
  const names = [listenName, 'localhost', hostname(), '127.0.0.1', '::1'].filter((name): name is string => name !== undefined && name !== '');
  return [...new Set(names)];
}

export async function generateCertificate(names: readonly string[]): Promise<{ key: string; cert: string }> {
  const [commonName = 'localhost'] = names;
  const notAfterDate = new Date(Date.now() + VALIDITY_DAYS * 24 * 60 * 60 * 1000);
  // Loaded only to make a certificate (once per installation): ~170 modules a running relay
  // does not need in memory (docs/performance.md).
  const { generate } = await import('selfsigned');
  // RSA 2048, not EC: old printers and TLS 1.0 stacks often know no ECDSA.
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: names.map((name) => (isIP(name) === 0 ? { type: 2 as const, value: name } : { type: 7 as const, ip: name })),
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** The smtp-server (tls.createSecureContext) options for the material and the configured floor. */
export function tlsServerOptions(material: LocalTlsMaterial, minVersion: LocalTlsConfig['minVersion']) {
  const legacy = minVersion !== 'TLSv1.2';
  return {
    key: material.key,
    cert: material.cert,
    minVersion,
    ...(legacy ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
  };
}
