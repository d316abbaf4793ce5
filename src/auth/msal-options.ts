/**
 * The MSAL settings both providers share: where Entra is, and a logger that never sees
 * personal data, tokens or secrets.
 */
import type { INetworkModule, LogLevel, NodeSystemOptions } from '@azure/msal-node';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';

/**
 * MSAL's LogLevel values (msal-common's Logger), named here so that building the options does
 * not load MSAL (src/auth/lazy-msal.ts); typed against MSAL's enum, so a change there fails to compile.
 */
const MSAL_LOG_LEVEL = { error: 0 as LogLevel.Error, warning: 1 as LogLevel.Warning } as const;

/** `auth.authority` and `auth.knownAuthorities` for a tenant on the configured sign-in host. */
export function msalAuthority(identity: Config['identity'], tenantId: string): { authority: string; knownAuthorities: string[] } {
  const authorityHost = identity.authorityHost.replace(/\/+$/, '');
  return {
    authority: `${authorityHost}/${tenantId}`,
    // Trust the configured host as it is: no instance discovery call to login.microsoftonline.com
    // (which a test tenant or a national cloud would not answer for).
    knownAuthorities: [new URL(authorityHost).host],
  };
}

/** `system`: our HTTPS client (with the configured CA) and MSAL's log routed to ours, PII off. */
export function msalSystemOptions(network: INetworkModule, logger: Logger): NodeSystemOptions {
  return {
    networkClient: network,
    loggerOptions: {
      // MSAL's own switch: no user names, tokens, codes or secrets in its log messages.
      piiLoggingEnabled: false,
      logLevel: MSAL_LOG_LEVEL.warning,
      loggerCallback: (level, message, containsPii) => {
        if (containsPii) return;
        if (level === MSAL_LOG_LEVEL.error) logger.warn({ msal: message }, 'MSAL reported an error');
        else logger.debug({ msal: message }, 'MSAL');
      },
    },
  };
}
