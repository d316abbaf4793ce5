/**
 * MSAL's network client on node:https, so that an extra CA (identity.caFile: a test tenant,
 * or a TLS-inspecting proxy) is trusted for the identity provider only, without
 * NODE_EXTRA_CA_CERTS and without weakening certificate checks for anything else.
 * Implements MSAL's INetworkModule (GET and POST returning { headers, body, status }).
 *
 * Certificates are verified whatever the environment says: NODE_TLS_REJECT_UNAUTHORIZED=0 is
 * overridden (rejectUnauthorized is set explicitly) and NODE_EXTRA_CA_CERTS is not trusted here
 * (`ca` is always Node's bundled roots plus identity.caFile). The client secret and refresh
 * tokens travel on these connections. See docs/security.md.
 */
import { Agent, request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { tlsFailure, type IdentityTlsError } from './tls-failure.js';

/** TLS 1.2 is the floor Microsoft Entra accepts (learn.microsoft.com/troubleshoot/entra/entra-id/ad-dmn-services/enable-support-tls-environment). */
const MIN_TLS_VERSION = 'TLSv1.2';

/** A token request must not hang a delivery forever when the identity provider stalls. */
const DEFAULT_TIMEOUT_MS = 30_000;

export interface HttpsNetworkClientOptions {
  /** Extra trusted CA certificates (PEM); the system's CAs stay trusted. */
  readonly extraCaPem?: string | undefined;
  readonly timeoutMs?: number;
  /** Sees every non-2xx answer, e.g. to keep Entra's error text that MSAL drops. */
  readonly onErrorResponse?: (url: string, status: number, body: unknown) => void;
}

export class HttpsNetworkClient implements INetworkModule {
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly onErrorResponse: HttpsNetworkClientOptions['onErrorResponse'];
  private tlsError: IdentityTlsError | undefined;

  constructor(options: HttpsNetworkClientOptions = {}) {
    // `ca` replaces Node's default list (which NODE_EXTRA_CA_CERTS extends), so the bundled roots
    // are passed along with the configured CA, and nothing else.
    const ca = options.extraCaPem === undefined ? [...rootCertificates] : [...rootCertificates, options.extraCaPem];
    this.agent = new Agent({ keepAlive: true, ca, ...TLS_CHECKS });
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onErrorResponse = options.onErrorResponse;
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  /**
   * The TLS failure of the last request that had one, once (MSAL drops it, see tls-failure.ts):
   * the token provider names it instead of MSAL's endpoints_resolution_error.
   */
  takeTlsError(): IdentityTlsError | undefined {
    const error = this.tlsError;
    this.tlsError = undefined;
    return error;
  }

  /** Closes idle keep-alive connections. */
  destroy(): void {
    this.agent.destroy();
  }

  private send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    // What takeTlsError() reports is about the latest request only.
    this.tlsError = undefined;
    const body = method === 'POST' ? (options?.body ?? '') : undefined;
    const headers: Record<string, string | number> = { ...options?.headers };
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent, ...TLS_CHECKS, timeout: timeout ?? this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            reject(new Error(`${method} ${originOf(url)}: answer ${status} is not JSON`));
            return;
          }
          if (status < 200 || status >= 300) this.onErrorResponse?.(url, status, parsed);
          resolve({ headers: flattenHeaders(res.headers), body: parsed as T, status });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${originOf(url)}: no answer within ${timeout ?? this.timeoutMs} ms`)));
      req.on('error', (error) => {
        const tls = tlsFailure(error, originOf(url));
        if (tls !== undefined) this.tlsError = tls;
        reject(tls ?? new Error(`${method} ${originOf(url)} failed: ${error.message}`, { cause: error }));
      });
      req.end(body);
    });
  }
}

/** On the agent and on every request, so that no default and no environment variable can loosen them. */
const TLS_CHECKS = { rejectUnauthorized: true, minVersion: MIN_TLS_VERSION } as const;

/** Only scheme, host and port: query strings can carry client data. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'identity provider';
  }
}

function flattenHeaders(headers: NodeJS.Dict<string | string[]>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
