/**
 * A fake Exchange Online submission endpoint (smtp.office365.com:587) on the real smtp-server:
 * STARTTLS with the test certificate (TLS 1.2 or later), AUTH XOAUTH2 only and only after
 * STARTTLS, bearer tokens verified against the identity provider's keys, Exchange's per-mailbox
 * limits (3 concurrent connections, optional message rate), and replies that a test can script.
 *
 * Limits and reply texts: docs/exchange-replies.md (each with its Microsoft Learn source).
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { JWTPayload } from 'jose';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { systemClock, type Clock } from '../../src/core/clock.js';
import type { TestCertificates } from './certs.js';
import { EXCHANGE_REPLIES, type SmtpReply } from './exchange-replies.js';
import type { TokenVerifier } from './token-verifier.js';

/** Exchange Online: 3 concurrent SMTP AUTH connections per mailbox. */
export const DEFAULT_MAX_CONNECTIONS_PER_MAILBOX = 3;
/** Exchange Online's default maximum message size for sending: 35 MB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 35 * 1024 * 1024;

export type ScriptPhase = 'connect' | 'auth' | 'mail' | 'rcpt' | 'data';

/** What a scripted step can look at to decide whether it applies. */
export interface ScriptContext {
  readonly phase: ScriptPhase;
  readonly sessionId: string;
  /** The `user=` of XOAUTH2, once known. */
  readonly mailbox: string | undefined;
  readonly mailFrom: string | undefined;
  /** The recipient of this RCPT command (phase "rcpt" only). */
  readonly rcptTo: string | undefined;
  /** Recipients accepted so far in this transaction. */
  readonly recipients: readonly string[];
}

export interface ScriptStep {
  readonly phase: ScriptPhase;
  /** The reply to give, or "drop" to close the connection without a reply (in DATA: after the first bytes). */
  readonly reply: SmtpReply | 'drop';
  /** How many times the step fires; 1 by default, Infinity for always. */
  readonly times?: number;
  /** Only when this returns true. */
  readonly match?: (context: ScriptContext) => boolean;
}

/** Ready-made step: the connection is lost in the middle of DATA (some bytes arrive, no reply). */
export const DROP_DURING_DATA: ScriptStep = { phase: 'data', reply: 'drop' };

export interface ReceivedMessage {
  readonly id: string;
  /** The mailbox that authenticated (`user=` of XOAUTH2). */
  readonly mailbox: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** The message exactly as smtp-server handed it over (dot-stuffing removed). */
  readonly raw: Buffer;
  /** BODY= of MAIL FROM, lower case ("7bit" when absent; RFC 6152 "8bitmime"). */
  readonly bodyType: string;
  /** Whether MAIL FROM carried SMTPUTF8 (RFC 6531). */
  readonly smtpUtf8: boolean;
  /** Claims of the token the connection authenticated with. */
  readonly claims: JWTPayload;
  /** The bearer token itself, so tests can check it is stored nowhere in plain text. */
  readonly token: string;
  /** When it was accepted, by the fake's clock. */
  readonly receivedAt: number;
}

export interface MockExchangeOptions {
  readonly certificates: TestCertificates;
  readonly verifyToken: TokenVerifier;
  /** Mailboxes the tenant knows (compared without case). */
  readonly mailboxes: readonly string[];
  readonly port?: number;
  readonly host?: string;
  readonly maxConnectionsPerMailbox?: number;
  /** Submission rate per mailbox; off by default. Exchange allows 30 a minute. */
  readonly rate?: { readonly messages: number; readonly perSeconds: number };
  readonly maxMessageBytes?: number;
  readonly clock?: Clock;
}

interface SessionState {
  mailbox?: string;
  claims?: JWTPayload;
  token?: string;
}

/**
 * A pause on the final reply to DATA, for tests that kill the client while a delivery is in
 * flight. A held message is already stored (Exchange commits before it answers): when the client
 * goes away before the reply and sends again, it arrives twice, as when a real 250 is lost.
 */
export interface DataReplyHold {
  /** Messages whose DATA arrived complete and whose reply is held. */
  readonly held: readonly ReceivedMessage[];
  /** Resolves once `count` messages are held. */
  waitForHeld(count: number, timeoutMs?: number): Promise<readonly ReceivedMessage[]>;
  /** Ends the hold: held replies go to the connections still open, later messages are answered at once. */
  release(): void;
}

interface ActiveHold {
  readonly held: ReceivedMessage[];
  readonly replies: Array<() => void>;
  readonly waiters: Array<() => void>;
}

interface ArmedStep {
  readonly step: ScriptStep;
  remaining: number;
}

/** An error that smtp-server turns into the reply `code text`. */
function replyError(reply: SmtpReply): Error {
  return Object.assign(new Error(reply.text), { responseCode: reply.code });
}

/**
 * How the fake answers STARTTLS: as Exchange does ("offer"); offered but refused with a 500, as a
 * firewall doing "ESMTP inspection" does ("refuse"); or not offered at all, as when something
 * strips it from the EHLO reply ("absent").
 */
export type StartTlsMode = 'offer' | 'refuse' | 'absent';

/** The part of smtp-server's connection that STARTTLS scripting replaces (not in its typings). */
interface StartTlsHandler {
  handler_STARTTLS(command: Buffer, callback: () => void): void;
  send(code: number, data?: string): void;
}

/** smtp-server hard-codes "235 Authentication successful"; Exchange adds the enhanced code. */
class ExchangeLikeSmtpServer extends SMTPServer {
  startTls: StartTlsMode = 'offer';

  override connect(...args: Parameters<SMTPServer['connect']>): void {
    super.connect(...args);
    const connection = [...this.connections].at(-1);
    if (connection === undefined) return;
    const send = connection.send.bind(connection);
    connection.send = (code, data, context) =>
      send(code, code === 235 ? EXCHANGE_REPLIES.authenticationSuccessful.text : data, context);
    const handler = connection as unknown as StartTlsHandler;
    const upgrade = handler.handler_STARTTLS.bind(connection);
    handler.handler_STARTTLS = (command, callback) => {
      if (this.startTls === 'offer') return upgrade(command, callback);
      // "absent": as smtp-server answers a command it does not know.
      handler.send(this.startTls === 'refuse' ? 500 : 502, this.startTls === 'refuse' ? '5.5.1 STARTTLS not permitted' : '5.5.2 Error: command not recognized');
      callback();
    };
  }
}

export class MockExchange extends EventEmitter {
  /** Every message accepted, in order. */
  readonly messages: ReceivedMessage[] = [];
  private readonly options: MockExchangeOptions;
  private readonly clock: Clock;
  private readonly server: ExchangeLikeSmtpServer;
  private readonly mailboxes: Set<string>;
  private readonly sessions = new Map<string, SessionState>();
  private readonly authenticated = new Map<string, Set<string>>();
  private readonly maxSeen = new Map<string, number>();
  private readonly accepted = new Map<string, number[]>();
  private readonly steps: ArmedStep[] = [];
  private hold: ActiveHold | undefined;
  private boundPort = 0;
  private counters = { concurrencyRefusals: 0, rateRefusals: 0, authFailures: 0, authAttempts: 0, connections: 0 };

  private constructor(options: MockExchangeOptions) {
    super();
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.mailboxes = new Set(options.mailboxes.map((m) => m.toLowerCase()));
    this.server = new ExchangeLikeSmtpServer({
      name: 'mock.outlook.office365.com',
      banner: 'Microsoft ESMTP MAIL Service ready',
      key: options.certificates.keyPem,
      cert: options.certificates.certPem,
      minVersion: 'TLSv1.2',
      authMethods: ['XOAUTH2'],
      size: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, callback) => this.handleConnect(session, callback),
      onSecure: (_socket, session, callback) => {
        // AUTH is offered once the channel is encrypted, as Exchange does.
        session.disabledCommands = [];
        callback();
      },
      onAuth: (auth, session, callback) => void this.handleAuth(auth, session, callback),
      onMailFrom: (address, session, callback) => this.handleMailFrom(address.address, session, callback),
      onRcptTo: (address, session, callback) => this.handleRcptTo(address.address, session, callback),
      onData: (stream, session, callback) => this.handleData(stream, session, callback),
      onClose: (session) => this.handleClose(session),
    });
    // smtp-server re-emits a client's reset inside a transaction (a relay killed mid-DATA) as a
    // server 'error'; unheard, it would crash the test process. Real Exchange just drops it.
    this.server.on('error', () => undefined);
  }

  static async start(options: MockExchangeOptions): Promise<MockExchange> {
    const exchange = new MockExchange(options);
    await exchange.up(options.port ?? 0);
    return exchange;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server.server.listening;
  }

  /** AUTH attempts refused because the mailbox already had its maximum of connections. */
  get concurrencyRefusals(): number {
    return this.counters.concurrencyRefusals;
  }

  /** MAIL FROM refused because the mailbox went over the rate. */
  get rateRefusals(): number {
    return this.counters.rateRefusals;
  }

  /** AUTH attempts refused for a bad token or an unknown mailbox. */
  get authFailures(): number {
    return this.counters.authFailures;
  }

  /** TCP connections accepted so far. */
  get connectionCount(): number {
    return this.counters.connections;
  }

  /** Highest number of authenticated connections one mailbox had at the same time. */
  maxConcurrency(mailbox: string): number {
    return this.maxSeen.get(mailbox.toLowerCase()) ?? 0;
  }

  /** Authenticated connections the mailbox has now. */
  activeConnections(mailbox: string): number {
    return this.authenticated.get(mailbox.toLowerCase())?.size ?? 0;
  }

  /** Times (by the fake's clock) at which the mailbox's messages were accepted. */
  acceptedAt(mailbox: string): readonly number[] {
    return this.accepted.get(mailbox.toLowerCase()) ?? [];
  }

  /** AUTH commands received, refused or not (none may come before STARTTLS succeeded). */
  get authAttempts(): number {
    return this.counters.authAttempts;
  }

  /** Scripts the STARTTLS step for the connections opened from now on. */
  setStartTls(mode: StartTlsMode): void {
    this.server.startTls = mode;
  }

  /** Presents another certificate (one the client does not trust), or the test CA's again. */
  presentCertificate(certificate: { readonly certPem: string; readonly keyPem: string } | undefined): void {
    const chosen = certificate ?? { certPem: this.options.certificates.certPem, keyPem: this.options.certificates.keyPem };
    this.server.updateSecureContext({ key: chosen.keyPem, cert: chosen.certPem });
  }

  /** Adds a scripted reply; steps are tried in the order they were added. */
  script(step: ScriptStep): void {
    this.steps.push({ step, remaining: step.times ?? 1 });
  }

  clearScripts(): void {
    this.steps.length = 0;
  }

  /** Holds the reply to every DATA that ends from now on, until `release()` (see DataReplyHold). */
  holdDataReplies(): DataReplyHold {
    if (this.hold !== undefined) throw new Error('mock Exchange: DATA replies are already held');
    const hold: ActiveHold = { held: [], replies: [], waiters: [] };
    this.hold = hold;
    return {
      held: hold.held,
      waitForHeld: (count, timeoutMs = 10_000) =>
        new Promise((resolve, reject) => {
          const check = (): boolean => {
            if (hold.held.length < count) return false;
            clearTimeout(timer);
            resolve([...hold.held]);
            return true;
          };
          const timer = setTimeout(() => reject(new Error(`mock Exchange: ${hold.held.length} of ${count} DATA replies held after ${timeoutMs} ms`)), timeoutMs);
          if (!check()) hold.waiters.push(() => void check());
        }),
      release: () => {
        if (this.hold === hold) this.hold = undefined;
        for (const reply of hold.replies.splice(0)) reply();
      },
    };
  }

  /** Resolves once `count` messages have been accepted in total. */
  waitForMessages(count: number, timeoutMs = 10_000): Promise<ReceivedMessage[]> {
    if (this.messages.length >= count) return Promise.resolve([...this.messages]);
    return new Promise((resolve, reject) => {
      const onMessage = (): void => {
        if (this.messages.length < count) return;
        clearTimeout(timer);
        this.off('message', onMessage);
        resolve([...this.messages]);
      };
      const timer = setTimeout(() => {
        this.off('message', onMessage);
        reject(new Error(`mock Exchange: ${this.messages.length} of ${count} messages after ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('message', onMessage);
    });
  }

  /** "Down for a while": stops listening and drops every open connection. */
  async down(): Promise<void> {
    const listener = this.server.server;
    const closed = listener.listening ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    for (const connection of this.server.connections) connection._socket.destroy();
    await closed;
  }

  /** Listens again, on the same port as before unless `port` is given. */
  async up(port = this.boundPort): Promise<void> {
    const listener = this.server.server;
    if (listener.listening) return;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, this.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (listener.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await this.down();
    this.removeAllListeners();
  }

  private handleConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    this.counters.connections += 1;
    this.sessions.set(session.id, {});
    // Exchange lists AUTH only after STARTTLS; an AUTH before it is not recognized.
    session.disabledCommands = ['AUTH'];
    this.respond('connect', session, undefined, callback);
  }

  private async handleAuth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: (err: Error | null | undefined, response?: { user: string }) => void,
  ): Promise<void> {
    this.counters.authAttempts += 1;
    const state = this.state(session);
    const mailbox = (auth.username ?? '').toLowerCase();
    state.mailbox = mailbox;
    if (this.fireScript('auth', session, undefined, callback)) return;
    const claims = await this.verify(auth.accessToken);
    if (claims === undefined || !this.mailboxes.has(mailbox)) {
      this.counters.authFailures += 1;
      callback(replyError(EXCHANGE_REPLIES.authenticationUnsuccessful));
      return;
    }
    const active = this.authenticated.get(mailbox) ?? new Set<string>();
    if (active.size >= (this.options.maxConnectionsPerMailbox ?? DEFAULT_MAX_CONNECTIONS_PER_MAILBOX)) {
      this.counters.concurrencyRefusals += 1;
      callback(replyError(EXCHANGE_REPLIES.concurrentConnectionsExceeded));
      return;
    }
    active.add(session.id);
    this.authenticated.set(mailbox, active);
    this.maxSeen.set(mailbox, Math.max(this.maxConcurrency(mailbox), active.size));
    state.claims = claims;
    state.token = auth.accessToken;
    callback(null, { user: mailbox });
  }

  private handleMailFrom(address: string, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    if (this.fireScript('mail', session, undefined, callback, address)) return;
    const mailbox = this.state(session).mailbox;
    const rate = this.options.rate;
    if (rate !== undefined && mailbox !== undefined) {
      const since = this.clock.now() - rate.perSeconds * 1000;
      const recent = this.acceptedAt(mailbox).filter((at) => at > since).length;
      if (recent >= rate.messages) {
        this.counters.rateRefusals += 1;
        callback(replyError(EXCHANGE_REPLIES.senderThreadLimitExceeded));
        return;
      }
    }
    callback();
  }

  private handleRcptTo(address: string, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    this.respond('rcpt', session, address, callback);
  }

  private handleData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    // The stream errors when the client goes away mid-message; that is not a crash.
    stream.on('error', () => undefined);
    const scripted = this.takeScript('data', session, undefined);
    if (scripted === 'drop') {
      // A connection lost in the middle of DATA: some bytes arrive, the reply never does.
      stream.once('data', () => this.drop(session));
      stream.resume();
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      if (scripted !== undefined) return callback(replyError(scripted));
      if (stream.sizeExceeded) return callback(replyError(EXCHANGE_REPLIES.messageTooBig));
      // Decided before storing, so that a hold started by a 'message' listener spares that message.
      const hold = this.hold;
      const message = this.store(session, Buffer.concat(chunks));
      const reply = `2.6.0 <${message.id}@mock.outlook.office365.com> [InternalId=${this.messages.length}] Queued mail for delivery`;
      if (hold === undefined) return callback(null, reply);
      hold.held.push(message);
      // A connection that closed meanwhile gets no reply (its session is gone).
      hold.replies.push(() => {
        if (this.sessions.has(session.id)) callback(null, reply);
      });
      for (const waiter of hold.waiters) waiter();
    });
  }

  private handleClose(session: SMTPServerSession): void {
    const mailbox = this.sessions.get(session.id)?.mailbox;
    if (mailbox !== undefined) this.authenticated.get(mailbox)?.delete(session.id);
    this.sessions.delete(session.id);
  }

  private store(session: SMTPServerSession, raw: Buffer): ReceivedMessage {
    const state = this.state(session);
    const mailbox = state.mailbox ?? '';
    const receivedAt = this.clock.now();
    const message: ReceivedMessage = {
      id: `msg-${this.messages.length + 1}-${session.id}`,
      mailbox,
      mailFrom: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
      rcptTo: session.envelope.rcptTo.map((r) => r.address),
      raw,
      bodyType: session.envelope.bodyType ?? '7bit',
      smtpUtf8: session.envelope.smtpUtf8 === true,
      claims: state.claims ?? {},
      token: state.token ?? '',
      receivedAt,
    };
    this.messages.push(message);
    this.accepted.set(mailbox, [...this.acceptedAt(mailbox), receivedAt]);
    this.emit('message', message);
    return message;
  }

  private async verify(token: string | undefined): Promise<JWTPayload | undefined> {
    if (token === undefined) return undefined;
    try {
      return await this.options.verifyToken(token);
    } catch {
      return undefined;
    }
  }

  /** Answers with a scripted reply if one applies, else accepts. */
  private respond(phase: ScriptPhase, session: SMTPServerSession, rcptTo: string | undefined, callback: (err?: Error | null) => void): void {
    if (this.fireScript(phase, session, rcptTo, callback)) return;
    callback();
  }

  /** Fires a scripted step; true when it answered (or dropped) so the caller stops. */
  private fireScript(
    phase: ScriptPhase,
    session: SMTPServerSession,
    rcptTo: string | undefined,
    callback: (err?: Error | null) => void,
    mailFrom?: string,
  ): boolean {
    const reply = this.takeScript(phase, session, rcptTo, mailFrom);
    if (reply === undefined) return false;
    if (reply === 'drop') this.drop(session);
    else callback(replyError(reply));
    return true;
  }

  private takeScript(phase: ScriptPhase, session: SMTPServerSession, rcptTo: string | undefined, mailFrom?: string): SmtpReply | 'drop' | undefined {
    const envelopeFrom = session.envelope?.mailFrom;
    const context: ScriptContext = {
      phase,
      sessionId: session.id,
      mailbox: this.sessions.get(session.id)?.mailbox,
      mailFrom: mailFrom ?? (envelopeFrom === undefined || envelopeFrom === false ? undefined : envelopeFrom.address),
      rcptTo,
      recipients: (session.envelope?.rcptTo ?? []).map((r) => r.address),
    };
    const armed = this.steps.find((s) => s.step.phase === phase && s.remaining > 0 && (s.step.match?.(context) ?? true));
    if (armed === undefined) return undefined;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.steps.splice(this.steps.indexOf(armed), 1);
    return armed.step.reply;
  }

  private drop(session: SMTPServerSession): void {
    for (const connection of this.server.connections) {
      if (connection.id === session.id) (connection._socket as Socket).destroy();
    }
  }

  private state(session: SMTPServerSession): SessionState {
    let state = this.sessions.get(session.id);
    if (state === undefined) {
      state = {};
      this.sessions.set(session.id, state);
    }
    return state;
  }
}
