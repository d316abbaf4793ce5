/**
 * The smtp-server options for local TLS and local AUTH, and the sender planner that goes with
 * them, built in one place from listen.tls, listen.auth and listen.rewriteSender.
 */
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { Clock } from '../core/clock.js';
import { INBOUND_REPLIES } from '../core/inbound-replies.js';
import type { Logger } from '../core/logger.js';
import { AuthThrottle } from './auth-throttle.js';
import { AUTH_METHODS, createAuthHook, type UserDirectory } from './local-auth.js';
import { certificateNames, loadLocalTls, tlsServerOptions, tlsWanted, type LocalTlsMaterial } from './local-tls.js';
import { LocalUsers, readUsersFile, usersFilePath } from './local-users.js';
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
  const failedAuth = new WeakSet<SMTPServerSession>();
  const usersFile = options.dataDir === undefined ? undefined : usersFilePath(options.dataDir);
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
          onAuth: rememberFailedAuth(
            createAuthHook({
              mode: listen.auth,
              users: usersFile === undefined ? noUsers : new LocalUsers(usersFile),
              throttle: new AuthThrottle(clock),
              logger,
              sessions,
            }),
            failedAuth,
            () => (usersFile === undefined ? Promise.resolve(false) : usersExist(usersFile)),
          ),
        }
      : {}),
  };
  const planSender = createSenderPlanner({
    authMode: listen.auth,
    senders: buildSenderIndex(options.accounts),
    accounts: options.accounts,
    rewriteRules: createRewriteRules(listen.rewriteSender, options.accounts),
    authFailed: (session) => failedAuth.has(session),
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

type AuthHook = (auth: SMTPServerAuthentication, session: SMTPServerSession, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void) => void;

/**
 * Remembers the sessions whose AUTH was refused with 535 while local users exist: with
 * listen.auth "optional" their mail is then refused at MAIL FROM (transaction-sender.ts) instead
 * of going out as if the program had never tried, which would hide a wrong password and let a
 * guesser send anyway. Without any user, AUTH cannot succeed and the old behaviour stays.
 */
function rememberFailedAuth(onAuth: AuthHook, failed: WeakSet<SMTPServerSession>, anyUsers: () => Promise<boolean>): AuthHook {
  return (auth, session, callback) =>
    onAuth(auth, session, (err, response) => {
      if ((err as { responseCode?: number } | null | undefined)?.responseCode !== INBOUND_REPLIES['auth-invalid'].code) return callback(err, response);
      // Decide before the reply goes out, so that the MAIL FROM after it sees the mark.
      void anyUsers().then((exist) => {
        if (exist) failed.add(session);
        callback(err, response);
      });
    });
}

async function usersExist(path: string): Promise<boolean> {
  // An unreadable file counts as "users exist": refusing is the safe side.
  return readUsersFile(path).then(
    (file) => Object.keys(file.users).length > 0,
    () => true,
  );
}
