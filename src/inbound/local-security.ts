/**
 * The smtp-server options for local TLS and local AUTH, and the sender planner that goes with
 * them, built in one place from listen.tls, listen.auth and listen.rewriteSender.
 */
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { AuthThrottle } from './auth-throttle.js';
import { AUTH_METHODS, createAuthHook, type UserDirectory } from './local-auth.js';
import { certificateNames, loadLocalTls, tlsServerOptions, tlsWanted, type LocalTlsMaterial } from './local-tls.js';
import { LocalUsers, usersFilePath } from './local-users.js';
import { SessionSignals } from './session-signals.js';
import { buildSenderIndex } from './sender-policy.js';
import { createRewriteRules } from './sender-rewrite.js';
import { createSenderPlanner, type SenderPlanner } from './transaction-sender.js';
import type { InboundOptions } from './types.js';

export interface LocalSecurity {
  /** Options shared by the STARTTLS listener and the implicit TLS one. */
  readonly serverOptions: Partial<SMTPServerOptions>;
  readonly planSender: SenderPlanner;
  /** Undefined when TLS is off (or no dataDir to keep a generated certificate in). */
  readonly tls: LocalTlsMaterial | undefined;
  /** To be called from smtp-server's onClose: drops the password checks of a client that left. */
  readonly sessionClosed: (session: SMTPServerSession) => void;
}

/** Nobody can log in: for a relay started without a dataDir (tests of other parts). */
const noUsers: UserDirectory = { authenticate: () => Promise.resolve(undefined) };

export async function prepareLocalSecurity(options: InboundOptions, clock: Clock): Promise<LocalSecurity> {
  const { listen, logger } = options;
  const tls = await loadTls(options, logger);
  const authOn = listen.auth !== 'off';
  const sessions = new SessionSignals();
  const disabledCommands = [...(authOn ? [] : ['AUTH']), ...(tls !== undefined && listen.tls.starttls ? [] : ['STARTTLS'])];
  const serverOptions: Partial<SMTPServerOptions> = {
    // 'required' is enforced at MAIL FROM (transaction-sender.ts) with our own 530 5.7.0 text.
    authOptional: true,
    authMethods: AUTH_METHODS,
    // Global in smtp-server; onAuth decides per client (loopback only, local-auth.ts).
    allowInsecureAuth: true,
    disabledCommands,
    ...(tls === undefined ? {} : tlsServerOptions(tls, listen.tls.minVersion)),
    ...(authOn
      ? {
          onAuth: createAuthHook({
            mode: listen.auth,
            users: options.dataDir === undefined ? noUsers : new LocalUsers(usersFilePath(options.dataDir)),
            throttle: new AuthThrottle(clock),
            logger,
            sessions,
          }),
        }
      : {}),
  };
  const planSender = createSenderPlanner({
    authMode: listen.auth,
    senders: buildSenderIndex(options.accounts),
    accounts: options.accounts,
    rewriteRules: createRewriteRules(listen.rewriteSender, options.accounts),
  });
  return { serverOptions, planSender, tls, sessionClosed: (session) => sessions.closed(session) };
}

async function loadTls(options: InboundOptions, logger: Logger): Promise<LocalTlsMaterial | undefined> {
  const { tls } = options.listen;
  if (!tlsWanted(tls)) return undefined;
  if (options.dataDir === undefined && tls.certFile === undefined) {
    logger.warn('no dataDir for a generated certificate and no listen.tls.certFile: local TLS is off');
    return undefined;
  }
  const material = await loadLocalTls(tls, options.dataDir ?? '', certificateNames(options.listen.name));
  logger.info({ certFile: material.certFile, generated: material.generated, minVersion: tls.minVersion }, 'local TLS ready');
  return material;
}
