/**
 * Requests to Microsoft Graph on node:https with one keep-alive Agent per account: Node's fetch
 * fails under Wine 8 (docs/graph.md, "Network"), and an Agent lets an extra CA (graph.caFile: a
 * test tenant or a TLS-inspecting proxy) be trusted for Graph alone, as upstream.caFile is for SMTP.
 * At most 4 requests per mailbox are in flight ("Outlook service limits", MAX_CONCURRENT_REQUESTS).
 */
import type { Readable } from 'node:stream';
import { Agent, request, type RequestOptions } from 'node:https';
import { rootCertificates } from 'node:tls';
import { RequestSlots } from './request-slots.js';

/** https://learn.microsoft.com/graph/throttling-limits: 4 concurrent requests per mailbox (Outlook). */
export const MAX_CONCURRENT_REQUESTS = 4;

export interface GraphHttpOptions {
  readonly extraCaPem?: string | undefined;
  readonly timeoutMs: number;
  /** Told the size of every request body sent (the upload budget counts them). */
  readonly onBodySent?: (bytes: number) => void;
}

export interface GraphResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body, when there is one. */
  readonly json: unknown;
}

export interface GraphRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  /** Bearer token; absent for pre-authorized upload URLs (which refuse one). */
  readonly token?: string | undefined;
  readonly body?: Buffer | string | undefined;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Graph answered with an error, or could not be reached; carries what the condition table reads. */
export class GraphRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
    this.name = 'GraphRequestError';
  }
}

export class GraphHttp {
  private readonly agent: Agent;
  private readonly slots = new RequestSlots(MAX_CONCURRENT_REQUESTS);
  private readonly timeoutMs: number;
  private readonly onBodySent: ((bytes: number) => void) | undefined;

  constructor(options: GraphHttpOptions) {
    // `ca` replaces Node's bundled roots, so keep them and add the extra CA.
    const ca = options.extraCaPem === undefined ? undefined : [...rootCertificates, options.extraCaPem];
    this.agent = new Agent({ keepAlive: true, maxSockets: MAX_CONCURRENT_REQUESTS, ...(ca === undefined ? {} : { ca }) });
    this.timeoutMs = options.timeoutMs;
    this.onBodySent = options.onBodySent;
  }

  /** Sends one request; a non-2xx answer throws GraphRequestError with Graph's error code. */
  async send(graphRequest: GraphRequest): Promise<GraphResponse> {
    const response = await this.slots.run(() => this.once(graphRequest));
    if (response.status >= 200 && response.status < 300) return response;
    throw errorOf(graphRequest, response);
  }

  close(): void {
    this.agent.destroy();
  }

  private once(graphRequest: GraphRequest): Promise<GraphResponse> {
    const headers: Record<string, string | number> = { accept: 'application/json', ...graphRequest.headers };
    if (graphRequest.token !== undefined) headers.authorization = `Bearer ${graphRequest.token}`;
    if (graphRequest.contentType !== undefined) headers['content-type'] = graphRequest.contentType;
    const length = graphRequest.body === undefined ? 0 : Buffer.byteLength(graphRequest.body);
    headers['content-length'] = length;
    this.onBodySent?.(length);
    const options: RequestOptions = { method: graphRequest.method, headers, agent: this.agent, timeout: this.timeoutMs };
    return new Promise((resolve, reject) => {
      const req = request(graphRequest.url, options, (res) => {
        readAll(res).then(
          (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: parseJson(body) }),
          (error: unknown) => reject(networkError(graphRequest, error)),
        );
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (error) => reject(networkError(graphRequest, error)));
      req.end(graphRequest.body);
    });
  }
}

/** Retry-After is seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function retryAfterSeconds(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim());
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

function errorOf(graphRequest: GraphRequest, response: GraphResponse): GraphRequestError {
  const error = (response.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : undefined;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`;
  return new GraphRequestError(
    `${graphRequest.method} ${pathOf(graphRequest.url)}: ${response.status} ${code ?? ''} ${message}`.replace(/\s+/g, ' ').trim(),
    response.status,
    code,
    retryAfterSeconds(response.headers['retry-after']),
  );
}

function networkError(graphRequest: GraphRequest, error: unknown): GraphRequestError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return new GraphRequestError(`${graphRequest.method} ${pathOf(graphRequest.url)} failed: ${message}`, undefined, typeof code === 'string' ? code : undefined, undefined);
}

/** Origin and path only: an upload URL's query string is its credential. */
function pathOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return 'Microsoft Graph';
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
