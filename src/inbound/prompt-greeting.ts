/**
 * Greets clients at once instead of after smtp-server's fixed 100 ms wait.
 *
 * smtp-server 3.21 `SMTPConnection.init()` ends with
 *   `setTimeout(() => this.connectionReady(), 100)`
 * a wait meant to catch spammers that talk before the greeting. Our clients are local legacy
 * programs, many of which open one connection per message: 100 ms per message for nothing.
 *
 * Where we cut in: `SMTPServer.connect(socket)` builds the SMTPConnection, registers it in
 * `server.connections` and calls `init()`, all synchronously. Overriding `connect` in a
 * subclass lets the stock code run unchanged (its maxClients check, listeners, the timer),
 * after which we call `connectionReady()` ourselves and make that method run once only, so
 * the stock timer later finds nothing to do. We do not patch node_modules, re-implement
 * `init()`, or construct connections ourselves (that would copy private wiring).
 *
 * Guard: at start-up we check that the installed version still has that timer calling
 * `connectionReady` (`hasEarlyTalkerTimer`). If a future version renames the method or drops
 * the timer, we leave smtp-server's stock behaviour alone and log a warning.
 *
 * Before that, `SMTPServer._handleProxy` gives each connection its id from a call of
 * `crypto.randomBytes(10)` and calls `connect` only after a `setImmediate`, in which delivery
 * work that is waiting runs first: together some 0.05-0.1 ms of each greeting
 * (docs/performance.md, "The accept path"). Where no PROXY header is expected (we never
 * expect one), `connect` is called at once with an id of the same form drawn from a pooled
 * random buffer (`SessionIds`), when the installed version has that shape
 * (`hasDeferredProxyCallback`).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { acceptBareLineFeeds } from './bare-line-feeds.js';
import { onEveryParser } from './parser-hooks.js';
import { continueInOrder } from './pipelined-continue.js';
import { enforceDeadlines, type DeadlineLimits } from './session-deadlines.js';

/** What each connection gets besides the prompt greeting; none of it when absent (tests of the greeting). */
export interface ConnectionSeams {
  /** listen.bareLineFeedClients: whether this client may end lines, and DATA, with bare LF. */
  readonly bareLineFeeds: (remoteAddress: string) => boolean;
  readonly deadlines: DeadlineLimits;
  readonly clock: Clock;
}

type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

const EARLY_TALKER_TIMER = /setTimeout\(\s*\(\)\s*=>\s*this\.connectionReady\(\)\s*,\s*\d+\s*\)/;

/** True when `init` (SMTPConnection.prototype.init) delays the greeting with the known timer. */
export function hasEarlyTalkerTimer(init: unknown, connectionReady: unknown): boolean {
  if (typeof init !== 'function' || typeof connectionReady !== 'function') return false;
  return EARLY_TALKER_TIMER.test(Function.prototype.toString.call(init));
}

const DEFERRED_PROXY_CALLBACK = /setImmediate\(\s*\(\)\s*=>\s*callback\(\s*null\s*,\s*socketOptions\s*\)\s*\)/;

/** True when `handleProxy` (SMTPServer.prototype._handleProxy) defers its callback the known way. */
export function hasDeferredProxyCallback(handleProxy: unknown): boolean {
  return typeof handleProxy === 'function' && DEFERRED_PROXY_CALLBACK.test(Function.prototype.toString.call(handleProxy));
}

/** Ids of smtp-server's form (16 base-32 digits of 10 random bytes), 256 to one randomBytes call. */
export class SessionIds {
  private pool = Buffer.alloc(0);
  private offset = 0;

  next(): string {
    if (this.offset + ID_BYTES > this.pool.length) {
      this.pool = randomBytes(ID_BYTES * 256);
      this.offset = 0;
    }
    const bytes = this.pool.subarray(this.offset, this.offset + ID_BYTES);
    this.offset += ID_BYTES;
    return BigInt(`0x${bytes.toString('hex')}`).toString(32).padStart(16, '0');
  }
}

const ID_BYTES = 10;

type ProxyCallback = Parameters<SMTPServer['_handleProxy']>[1];

export class PromptGreetingServer extends SMTPServer {
  /** False when the installed smtp-server is not the shape we know: stock greeting then. */
  readonly greetsPromptly: boolean;
  /** False when `_handleProxy` is not the shape we know: its stock deferral then. */
  readonly connectsPromptly = hasDeferredProxyCallback(SMTPServer.prototype._handleProxy);
  private readonly sessionIds = new SessionIds();

  constructor(
    options: SMTPServerOptions,
    logger: Logger,
    private readonly seams?: ConnectionSeams,
  ) {
    super(options);
    this.greetsPromptly = hasEarlyTalkerTimer(SMTPConnection.prototype.init, SMTPConnection.prototype.connectionReady);
    if (!this.greetsPromptly) {
      logger.warn(
        'smtp-server no longer has the 100 ms early-talker timer we bypass; greeting clients the stock way (check src/inbound/prompt-greeting.ts)',
      );
    }
  }

  override _handleProxy(socket: Socket, callback: ProxyCallback): void {
    if (!this.connectsPromptly || this._expectsProxyHeader(socket)) {
      super._handleProxy(socket, callback);
      return;
    }
    const ignore = this.options.ignoredHosts?.includes(socket.remoteAddress ?? '') ?? false;
    callback(null, { id: this.sessionIds.next(), ignore });
  }

  override connect(socket: Parameters<SMTPServer['connect']>[0], socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    super.connect(socket, socketOptions);
    const connection = this.connectionOn(socket);
    // Not registered: init refused it (too many clients, 421) and it is closing already.
    if (connection === undefined || connection._closing || connection._closed) return;
    // The same seam serves the parser: pipelined transactions, and bare LF only for the
    // devices listed (RFC 5321 4.1.1.4: anyone else ends DATA with CRLF.CRLF only, which
    // smtp-server's parser does by itself; docs/message-integrity.md, "SMTP smuggling").
    const bareLineFeeds = this.seams?.bareLineFeeds(connection.remoteAddress) ?? false;
    onEveryParser(connection, (parser) => {
      if (bareLineFeeds) acceptBareLineFeeds(parser);
      continueInOrder(parser);
    });
    if (this.seams !== undefined) enforceDeadlines(connection, this.seams.deadlines, this.seams.clock);
    if (!this.greetsPromptly) return;
    // With an implicit TLS upgrade still running, init has not armed the timer yet.
    if (connection.needsUpgrade) return;
    greetNow(connection);
  }

  private connectionOn(socket: Parameters<SMTPServer['connect']>[0]): Connection | undefined {
    for (const connection of this.connections) {
      if (connection._socket === socket) return connection;
    }
    return undefined;
  }
}

function greetNow(connection: Connection): void {
  const stockReady = connection.connectionReady;
  let started = false;
  // Own property shadows the prototype method: the pending stock timer calls this one.
  connection.connectionReady = function connectionReadyOnce(this: Connection, next?: () => void): void {
    if (started) return;
    started = true;
    stockReady.call(this, next);
  };
  connection.connectionReady();
}
