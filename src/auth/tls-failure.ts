/**
 * A TLS failure towards the identity provider, named as such. MSAL turns any failed request of
 * its discovery step into a bare "endpoints_resolution_error" and drops the cause, so a wrong
 * certificate (a TLS-inspecting proxy, a man in the middle) looked like a network outage.
 * The codes are OpenSSL's X509_V_ERR_* names as Node reports them (error.code), and Node's own
 * ERR_TLS_CERT_ALTNAME_INVALID (RFC 6125 name check).
 */
const CERTIFICATE_PROBLEMS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: "its certificate is not valid yet (check this machine's clock)",
  CERT_REVOKED: 'its certificate has been revoked',
  CERT_UNTRUSTED: 'its certificate is not trusted',
  CERT_REJECTED: 'its certificate is rejected for this purpose',
  CERT_SIGNATURE_FAILURE: 'the signature on its certificate is wrong',
  CERT_CHAIN_TOO_LONG: 'its certificate chain is too long',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chain ends in a self-signed authority this machine does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is not signed by an authority this machine trusts',
  UNABLE_TO_GET_ISSUER_CERT: 'the authority that signed its certificate is not known',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the authority that signed its certificate is not trusted on this machine',
  INVALID_CA: 'an authority in its certificate chain is not valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate is for another host name',
};

/** Failures of the handshake itself: no common protocol version (TLS 1.2 is the floor) or cipher. */
const HANDSHAKE_PROBLEMS: Readonly<Record<string, string>> = {
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'it offers only TLS versions older than 1.2',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'it refused TLS 1.2 and newer',
  ERR_SSL_WRONG_VERSION_NUMBER: 'it does not speak TLS on that port',
  EPROTO: 'the TLS handshake failed',
};

export class IdentityTlsError extends Error {
  constructor(
    readonly origin: string,
    /** The TLS error code, e.g. SELF_SIGNED_CERT_IN_CHAIN. */
    readonly tlsCode: string,
    problem: string,
    readonly certificateProblem: boolean,
  ) {
    super(
      `TLS ${certificateProblem ? 'certificate ' : ''}error from the identity provider ${origin}: ${problem} (${tlsCode}). ` +
        'Nothing was sent over this connection. If a proxy on this network inspects TLS, give its CA certificate in identity.caFile.',
    );
    this.name = 'IdentityTlsError';
  }
}

/** The named failure for a request error, or undefined when it is not a TLS failure. */
export function tlsFailure(error: unknown, origin: string): IdentityTlsError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const certificate = CERTIFICATE_PROBLEMS[code];
  if (certificate !== undefined) return new IdentityTlsError(origin, code, certificate, true);
  const handshake = HANDSHAKE_PROBLEMS[code];
  return handshake === undefined ? undefined : new IdentityTlsError(origin, code, handshake, false);
}
