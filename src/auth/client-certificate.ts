/**
 * Certificate credentials for app-only accounts (Microsoft recommends them over client secrets:
 * https://learn.microsoft.com/entra/identity-platform/certificate-credentials). The relay signs a
 * client assertion with the private key; Entra checks it against the certificate registered on the
 * app (Certificates & secrets), found by the SHA-256 thumbprint in the assertion's header (x5t#S256).
 * The certificate also goes in the header (x5c), as subject-name/issuer authentication needs.
 *
 * The private key comes from `auth.privateKeyFile` (refused when anyone but the owner may read
 * it) or from the sealed secret store (`smtp-oauth-relay secret set --account NAME < key.pem`),
 * like a client secret.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ClientCredentialsAuth, DelegatedAuth } from '../core/config.js';
import { SignInRequiredError } from '../core/token.js';

/** What MSAL's ConfidentialClientApplication takes as `auth.clientCertificate`. */
export interface MsalClientCertificate {
  /** SHA-256 of the DER certificate, hex. */
  readonly thumbprintSha256: string;
  /** Unencrypted PKCS#8 PEM (MSAL signs with it). */
  readonly privateKey: string;
  /** The certificate (chain) as PEM, sent as x5c. */
  readonly x5c: string;
}

export interface ClientCertificateInfo {
  readonly thumbprintSha256: string;
  readonly subject: string;
  readonly expiresAt: number;
}

/** The certificate's file cannot be read or is not a PEM certificate: the config names the field. */
export class ClientCertificateError extends SignInRequiredError {
  constructor(account: string, problem: string) {
    super(`Account "${account}": ${problem}`);
    this.name = 'ClientCertificateError';
  }
}

export function readClientCertificate(account: string, certificateFile: string): { pem: string; info: ClientCertificateInfo } {
  let pem: string;
  let certificate: X509Certificate;
  try {
    pem = readFileSync(certificateFile, 'utf8');
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new ClientCertificateError(account, `auth.certificateFile ${certificateFile} is not a readable PEM certificate (${(error as Error).message})`);
  }
  return {
    pem,
    info: {
      thumbprintSha256: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
      subject: certificate.subject.replace(/\n/g, ', '),
      expiresAt: Date.parse(certificate.validTo),
    },
  };
}

/**
 * The private key of privateKeyFile. On POSIX the file must not be readable or writable by group
 * or others (as ssh does for its keys): a key others can read is no longer the app's alone.
 */
export function readPrivateKeyFile(account: string, privateKeyFile: string): string {
  let mode: number;
  try {
    mode = statSync(privateKeyFile).mode;
  } catch (error) {
    throw new ClientCertificateError(account, `auth.privateKeyFile ${privateKeyFile} cannot be read (${(error as Error).message})`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ClientCertificateError(
      account,
      `auth.privateKeyFile ${privateKeyFile} may be read by other users (mode ${(mode & 0o777).toString(8)}); make it readable by the service's account only (chmod 600), or seal the key with \`smtp-oauth-relay secret set --account ${account}\``,
    );
  }
  return readFileSync(privateKeyFile, 'utf8');
}

/** MSAL's clientCertificate from the certificate PEM and the key PEM; the key must belong to the certificate. */
export function msalClientCertificate(account: string, certificatePem: string, keyPem: string): MsalClientCertificate {
  const certificate = new X509Certificate(certificatePem);
  let privateKey: string;
  try {
    const key = createPrivateKey(keyPem);
    if (!certificate.checkPrivateKey(key)) throw new Error('the private key does not belong to the certificate');
    privateKey = key.export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch (error) {
    throw new ClientCertificateError(account, `the certificate's private key is unusable: ${(error as Error).message}`);
  }
  return { thumbprintSha256: certificate.fingerprint256.replaceAll(':', '').toLowerCase(), privateKey, x5c: certificatePem };
}

/** Which credential an account signs in with, for `doctor`: never the secret or key itself. */
export function describeCredential(account: { name: string; auth: ClientCredentialsAuth | DelegatedAuth }): string {
  const { auth } = account;
  if (auth.method === 'delegated') return 'a delegated sign-in (refresh token in the sealed cache)';
  if (auth.certificateFile !== undefined) {
    let about = auth.certificateFile;
    try {
      const { info } = readClientCertificate(account.name, auth.certificateFile);
      about = `${auth.certificateFile}, SHA-256 ${info.thumbprintSha256}, expires ${new Date(info.expiresAt).toISOString().slice(0, 10)}`;
    } catch {
      // The token check reports the unreadable file.
    }
    return `a certificate (${about}) with its private key ${auth.privateKeyFile === undefined ? 'sealed under the key store' : `from ${auth.privateKeyFile}`}`;
  }
  if (auth.clientSecretEnv !== undefined) return `a client secret from the environment variable ${auth.clientSecretEnv}`;
  if (auth.clientSecret !== undefined) return 'a client secret in the configuration file';
  return 'a client secret sealed under the key store';
}
