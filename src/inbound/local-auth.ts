/**
 * Local SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login):
 * the smtp-server onAuth hook. Programs such as Sage insist on a user name and password even
 * on localhost; the user then decides which account sends (sender-policy.ts).
 *
 * smtp-server's allowInsecureAuth is global, so it is on and the decision is here: loopback
 * clients may AUTH in clear text (nothing leaves the machine), everyone else must STARTTLS
 * first and otherwise hears 538 5.7.11 (RFC 4954 section 6, "Encryption required").
 *
 * Order of work: a throttled client (auth-throttle.ts) waits out its delay first, and only a
 * client still connected then gets its password checked; the check itself is bounded
 * (kdf-queue.ts: 454 4.7.0 when the line is full) and dropped when the client leaves.
 */
import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import type { Config } from '../core/config.js';
import { SmtpReplyError } from '../core/errors.js';
import { inboundReply } from '../core/inbound-replies.js';
import type { Logger } from '../core/logger.js';
import type { AuthThrottle } from './auth-throttle.js';
import { createClientPolicy } from './client-policy.js';
import { KdfAbortedError, KdfBusyError } from './kdf-queue.js';
import type { LocalUser } from './local-users.js';
import type { SessionSignals } from './session-signals.js';

export type AuthMode = Config['listen']['auth'];

/** What an AUTH leaves in session.user. */
export type SessionUser =
  | { readonly kind: 'local'; readonly user: LocalUser }
  /** 'accept-any': a name was given and accepted, but it binds nothing (treated as no AUTH). */
  | { readonly kind: 'any'; readonly name: string };

export interface UserDirectory {
  /** Rejects with KdfBusyError when too many checks wait, KdfAbortedError when `signal` fired first. */
  authenticate(name: string, password: string, signal?: AbortSignal): Promise<LocalUser | undefined>;
}

export interface LocalAuthDependencies {
  readonly mode: AuthMode;
  readonly users: UserDirectory;
  readonly throttle: AuthThrottle;
  readonly logger: Logger;
  /** Tells when a session's client has gone. */
  readonly sessions: SessionSignals;
}

export const AUTH_METHODS = ['PLAIN', 'LOGIN'];

type AuthCallback = (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void;

const isLoopback = createClientPolicy([]);

/** RFC 4954 section 6: 454 4.7.0 Temporary authentication failure. */
export const temporaryFailure = (): SmtpReplyError => inboundReply('auth-temporary-failure');

/** RFC 4954 section 6: 535 5.7.8 for a wrong user name or password. */
export const invalidCredentials = (): SmtpReplyError => inboundReply('auth-invalid');

export function createAuthHook(deps: LocalAuthDependencies) {
  return function onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession, callback: AuthCallback): void {
    const client = session.remoteAddress;
    if (!session.secure && !isLoopback(client)) {
      return callback(inboundReply('auth-encryption-required'));
    }
    const name = auth.username ?? '';
    const password = auth.password ?? '';
    const delay = deps.throttle.delayMs(client);

    if (deps.mode === 'accept-any') {
      // The password is never logged, not even here where it is not checked.
      deps.logger.info({ user: name, client }, 'accepted AUTH without checking it (listen.auth is accept-any)');
      const user: SessionUser = { kind: 'any', name };
      return callback(null, { user });
    }

    const signal = deps.sessions.signal(session);
    // The delay comes before the check: guessing from a throttled client costs it time, not us CPU.
    deps.throttle.later(delay, () => {
      if (signal.aborted) return;
      deps.users.authenticate(name, password, signal).then(
        (found) => {
          if (found !== undefined) {
            deps.throttle.recordSuccess(client);
            const user: SessionUser = { kind: 'local', user: found };
            // The 235 first: the program waits for it, not for the log line's writes.
            callback(null, { user });
            deps.logger.info({ user: name, account: found.account, client }, 'local user authenticated');
            return;
          }
          const cutOff = deps.throttle.recordFailure(client);
          deps.logger.warn({ user: name, client, failures: deps.throttle.failureCount(client) }, 'local AUTH failed');
          callback(
            cutOff ? inboundReply('auth-too-many-failures') : invalidCredentials(),
          );
        },
        (err: unknown) => {
          // The client is gone: nobody to answer.
          if (err instanceof KdfAbortedError) return;
          if (err instanceof KdfBusyError) {
            deps.logger.warn({ user: name, client }, 'too many password checks waiting; AUTH refused for now');
            return callback(temporaryFailure());
          }
          deps.logger.error({ err }, 'could not check a local password');
          callback(temporaryFailure());
        },
      );
    });
  };
}

export function sessionUser(session: SMTPServerSession): SessionUser | undefined {
  const user = session.user as SessionUser | undefined;
  return user?.kind === 'local' || user?.kind === 'any' ? user : undefined;
}

/** The local user bound to the session, if any ('accept-any' logins bind none). */
export function localUserOf(session: SMTPServerSession): LocalUser | undefined {
  const user = sessionUser(session);
  return user?.kind === 'local' ? user.user : undefined;
}
