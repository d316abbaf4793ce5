/**
 * The health endpoint for monitoring tools: plain node:http, three read-only routes.
 *   GET /healthz  200 "ok" while the daemon runs (liveness; it says nothing about Microsoft 365)
 *   GET /status   the same JSON as `status --json`
 *   GET /metrics  Prometheus text exposition format
 * Anything else is 404, any other method 405 (RFC 9110 section 15.5.6, with Allow). It is off by
 * default and meant for loopback; /status names mailboxes. A request whose Host header is not
 * this endpoint's is 421, and with a bearer token configured /status and /metrics need it (401):
 * see health-access.ts and docs/security.md.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import { bearerMatches, HostAllowList, isLoopbackHost } from './health-access.js';

export { isLoopbackHost } from './health-access.js';

/** What /metrics serves; a prom-client Registry satisfies it, and so does RelayMetrics' registry. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  /** The body of /status (what `status --json` prints). */
  readonly status: () => Promise<unknown>;
  readonly metrics: MetricsSource;
  readonly logger: Logger;
  /** Host header values accepted besides loopback names and `host`. */
  readonly allowedHosts?: readonly string[];
  /** When set, /status and /metrics need `Authorization: Bearer <token>`. */
  readonly bearerToken?: string | undefined;
}

export interface HealthServer {
  readonly address: { readonly host: string; readonly port: number };
  /** "http://127.0.0.1:9465" (IPv6 hosts in brackets). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { logger } = options;
  if (!isLoopbackHost(options.host) && options.bearerToken === undefined) {
    logger.warn({ host: options.host }, 'the health endpoint listens beyond this machine without a bearer token, and /status names mailboxes; keep health.host on 127.0.0.1, set health.tokenFile, or firewall it');
  }
  const hosts = new HostAllowList(options.host, options.allowedHosts);
  const server = createServer((request, response) => {
    void route(request, response, options, hosts).catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error), path: request.url }, 'health endpoint request failed');
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
  });
  // Monitoring agents keep connections open; they must not hold the daemon's stop.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  logger.info({ health: url }, 'health endpoint listening');
  return {
    address,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(request: IncomingMessage, response: ServerResponse, options: HealthServerOptions, hosts: HostAllowList): Promise<void> {
  if (!hosts.allows(request.headers.host)) {
    send(response, 421, 'text/plain; charset=utf-8', 'misdirected request: this endpoint answers to its own host name only (health.allowedHosts)\n');
    return;
  }
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const known = path === '/healthz' || path === '/status' || path === '/metrics';
  if (!known) {
    send(response, 404, 'text/plain; charset=utf-8', 'not found: try /healthz, /status or /metrics\n');
    return;
  }
  if (request.method !== 'GET') {
    response.setHeader('Allow', 'GET');
    send(response, 405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n');
    return;
  }
  // Liveness says nothing but "running"; what names mailboxes and counts mail needs the token.
  if (path !== '/healthz' && options.bearerToken !== undefined && !bearerMatches(options.bearerToken, request.headers.authorization)) {
    response.setHeader('WWW-Authenticate', 'Bearer realm="smtp-oauth-relay"');
    send(response, 401, 'text/plain; charset=utf-8', 'unauthorized: send Authorization: Bearer <health token>\n');
    return;
  }
  switch (path) {
    case '/healthz':
      send(response, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    case '/status':
      send(response, 200, 'application/json; charset=utf-8', `${JSON.stringify(await options.status(), null, 2)}\n`);
      return;
    case '/metrics':
      send(response, 200, options.metrics.contentType, await options.metrics.metrics());
      return;
  }
}

function send(response: ServerResponse, code: number, contentType: string, body: string): void {
  response.writeHead(code, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  response.end(body);
}
