/**
 * How the Graph stand-in checks a bearer token, as Microsoft Graph does: signed by the tenant's
 * published keys, audience https://graph.microsoft.com, and the Mail.Send permission, either
 * delegated (`scp` contains Mail.Send; the signed-in user is the mailbox) or app-only (`roles`
 * contains Mail.Send). https://learn.microsoft.com/graph/auth/auth-concepts ("Access tokens").
 */
import { jwtVerify, type JWTPayload } from 'jose';
import { publishedKeys } from './token-verifier.js';

export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';
export const MAIL_SEND = 'Mail.Send';

export interface GraphTokenCheckOptions {
  readonly jwksUri: string;
  readonly issuer: string;
  readonly caPem: string;
}

/** Why a token is refused: 401 (not a valid token for Graph) or 403 (valid, but no permission). */
export class GraphTokenRefused extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type GraphTokenCheck = (authorization: string | undefined, mailbox: string) => Promise<JWTPayload>;

export function createGraphTokenCheck(options: GraphTokenCheckOptions): GraphTokenCheck {
  const loadKeys = publishedKeys(options);
  return async (authorization, mailbox) => {
    const token = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) throw new GraphTokenRefused(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await loadKeys(), {
        issuer: options.issuer,
        audience: GRAPH_AUDIENCE,
        algorithms: ['RS256'],
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw new GraphTokenRefused(401, 'InvalidAuthenticationToken', `Access token validation failure. ${(error as Error).message}`);
    }
    const roles = Array.isArray(payload.roles) ? (payload.roles as unknown[]) : [];
    const scopes = typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
    if (payload.idtyp === 'app' || roles.length > 0) {
      if (!roles.includes(MAIL_SEND)) throw new GraphTokenRefused(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
      return payload;
    }
    if (!scopes.includes(MAIL_SEND)) throw new GraphTokenRefused(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    const user = String(payload.preferred_username ?? payload.upn ?? '').toLowerCase();
    if (user !== mailbox.toLowerCase()) throw new GraphTokenRefused(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    return payload;
  };
}
