/**
 * The SMTP listener legacy programs talk to: plain SMTP on loopback (or an allow-listed
 * LAN), every message spooled before 250. Built on smtp-server; the options below are the
 * whole protocol surface we offer.
 */
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { SMTPServerOptions } from 'smtp-server';
import type { Logger } from '../core/logger.js';
import { systemClock } from '../core/clock.js';
import { inboundReplyLine } from '../core/inbound-replies.js';
import { ClientLimits } from './client-limits.js';
import { composeHeaderRewrites } from './header-rewriter.js';
import { addReceived } from './received-header.js';
import { addMissingDateAndMessageId, messageIdDomain } from './submission-headers.js';
import { createClientMatcher, createClientPolicy } from './client-policy.js';
import { ConnectionSlots } from './connection-slots.js';
import { prepareLocalSecurity } from './local-security.js';
import { PromptGreetingServer, type ConnectionSeams } from './prompt-greeting.js';
import { buildSenderIndex } from './sender-policy.js';
import { createSessionHooks } from './session-hooks.js';
import type { InboundOptions, InboundServer } from './types.js';

/**
 * RFC 5321 4.5.3.1.4 allows 512 octets per command line, and extensions (SIZE, BODY,
 * SMTPUTF8 addresses) may make it longer. Longer lines than this get smtp-server's
 * "421 Error: Command line too long" and the connection closes, as the parser cannot find
 * the next command in the middle of a line. Lines between 512 and this limit are parsed
 * and answered normally (500/501 when they are not valid).
 */
export const MAX_COMMAND_LINE_OCTETS = 4096;
/** How long close() lets a message in progress finish before 421 and disconnect. */
export const CLOSE_GRACE_MS = 10_000;

export async function startInbound(options: InboundOptions): Promise<InboundServer> {
  const { listen, logger } = options;
  let accepting = true;
  let closing: Promise<void> | undefined;
  const clock = options.clock ?? systemClock;
  const security = await prepareLocalSecurity(options, clock);
  // Two pools (connection-slots.ts); smtp-server's maxClients is their sum.
  const connectionSlots = new ConnectionSlots(listen.connections);
  const seams: ConnectionSeams = {
    bareLineFeeds: createClientMatcher(listen.bareLineFeedClients, { loopback: false }),
    deadlines: listen.connections,
    clock,
  };

  // Read once: the name we greet with is the name our Received fields give (os.hostname() is a
  // system call, and was one per message).
  const ourName = listen.name ?? hostname();
  const hooks = createSessionHooks({
    sink: options.sink,
    logger,
    maxMessageBytes: listen.maxMessageBytes,
    onAccepted: options.onAccepted,
    clientPolicy: createClientPolicy(listen.allowClients),
    senders: buildSenderIndex(options.accounts),
    maxRecipients: listen.maxRecipients,
    isAccepting: () => accepting,
    planSender: security.planSender,
    clientLimits: new ClientLimits(listen.perClient, clock),
    connectionSlots,
    // RFC 6409 8.3, 8.4: a submission server adds Date and Message-ID when they are missing;
    // RFC 5321 4.4: and a Received field in front of everything.
    transactionHeaders: (session, account) =>
      composeHeaderRewrites(
        addMissingDateAndMessageId(messageIdDomain(listen.name, account.mailbox), clock),
        addReceived(session, ourName, clock),
      ),
  });

  const serverOptions: SMTPServerOptions = {
    name: ourName,
    banner: 'smtp-oauth-relay ready',
    // RFC 1870: advertised as "SIZE <n>"; MAIL FROM with a larger SIZE= gets smtp-server's
    // 552, a message that turns out larger gets our 552 5.3.4 (message-intake.ts).
    size: listen.maxMessageBytes,
    // AUTH and TLS (local-security.ts): STARTTLS is only offered with our own certificate,
    // never smtp-server's built-in one, whose private key is published.
    ...security.serverOptions,
    // No DNS on the hot path: the client's name is not used for any decision.
    disableReverseLookup: true,
    maxClients: connectionSlots.total,
    maxCommandLength: MAX_COMMAND_LINE_OCTETS,
    closeTimeout: CLOSE_GRACE_MS,
    // We log what matters ourselves (message-intake.ts); smtp-server's per-line logs are noise.
    logger: false,
    ...hooks,
    onClose(session, callback) {
      security.sessionClosed(session);
      hooks.onClose(session, callback);
    },
  };

  const server = await listenOn(new PromptGreetingServer(serverOptions, logger, seams), listen.port, listen.host, logger);
  const bound = server.server.address() as AddressInfo;
  logger.info({ host: bound.address, port: bound.port }, 'listening for SMTP');

  // RFC 8314: implicit TLS submission, a second listener with the same hooks and options.
  const implicitTlsPort = security.tls === undefined ? undefined : listen.tls.implicitTlsPort;
  const implicit =
    implicitTlsPort === undefined
      ? undefined
      : await listenOn(new PromptGreetingServer({ ...serverOptions, secure: true }, logger, seams), implicitTlsPort, listen.host, logger).catch(
          async (err: unknown) => {
            await new Promise<void>((resolve) => server.close(() => resolve()));
            throw err;
          },
        );
  const implicitBound = implicit?.server.address() as AddressInfo | undefined;
  if (implicitBound !== undefined) logger.info({ host: implicitBound.address, port: implicitBound.port }, 'listening for SMTP with implicit TLS');

  return {
    address: { host: bound.address, port: bound.port },
    implicitTlsAddress: implicitBound === undefined ? undefined : { host: implicitBound.address, port: implicitBound.port },
    stopAccepting(): void {
      accepting = false;
    },
    close(): Promise<void> {
      accepting = false;
      closing ??= Promise.all([drainThenClose(server), ...(implicit === undefined ? [] : [drainThenClose(implicit)])]).then(() => undefined);
      return closing;
    },
  };
}

async function listenOn(server: PromptGreetingServer, port: number, host: string, logger: Logger): Promise<PromptGreetingServer> {
  // Without a listener an 'error' event (a socket reset mid-transaction) would end the process.
  server.on('error', (err: Error) => logger.warn({ err }, 'inbound connection error'));
  await new Promise<void>((resolve, reject) => {
    const onListenError = (err: Error): void => reject(err);
    server.server.once('error', onListenError);
    server.listen(port, host, () => {
      server.server.off('error', onListenError);
      resolve();
    });
  });
  return server;
}

/** How often close() looks for transactions that have ended. */
const DRAIN_POLL_MS = 50;

type Connection = PromptGreetingServer['connections'] extends Set<infer C> ? C : never;

/**
 * Stops the listener only once no client is in the middle of a transaction (or after the
 * grace): until then a program that connects hears `421 4.3.2` from onConnect (RFC 5321 3.8,
 * "try again later") instead of a refused connection, and a message in DATA can finish and
 * be acknowledged. Sessions between transactions have nothing to lose: they get 421 at once.
 */
function drainThenClose(server: PromptGreetingServer): Promise<void> {
  const told = new WeakSet<Connection>();
  const tell = (connection: Connection): void => {
    if (told.has(connection)) return;
    told.add(connection);
    const { code, text } = inboundReplyLine('shutting-down');
    connection.send(code, text);
    connection.close();
  };
  const inTransaction = (connection: Connection): boolean => Boolean(connection.session?.envelope?.mailFrom);
  return new Promise<void>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearInterval(poll);
      clearTimeout(grace);
      // Past the grace a transaction is abandoned without a reply: nothing was acknowledged.
      for (const connection of server.connections) tell(connection);
      server.close(() => resolve());
    };
    const sweep = (): void => {
      for (const connection of server.connections) if (!inTransaction(connection)) tell(connection);
      if (![...server.connections].some(inTransaction)) finish();
    };
    const poll = setInterval(sweep, DRAIN_POLL_MS);
    const grace = setTimeout(finish, CLOSE_GRACE_MS);
    sweep();
  });
}
