/**
 * How the fake Exchange checks a bearer token: as a resource server would, from the identity
 * provider's published keys (fetched over HTTPS trusting only the test CA), never by asking
 * the provider in-process. Exchange Online accepts two kinds of token for SMTP AUTH:
 * app-only (aud https://outlook.office365.com, role SMTP.SendAsApp) and delegated
 * (aud https://outlook.office.com, scope SMTP.Send).
 * https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
 */
import { get } from 'node:https';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { EXCHANGE_APP_AUDIENCE, EXCHANGE_DELEGATED_AUDIENCE, SEND_AS_APP_ROLE, SEND_SCOPE } from './identity-provider.js';

export interface TokenVerifierOptions {
  readonly jwksUri: string;
  readonly issuer: string;
  /** CA that signed the identity provider's certificate. */
  readonly caPem: string;
}

export type TokenVerifier = (token: string) => Promise<JWTPayload>;

export type KeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * The identity provider's published keys, fetched once over HTTPS (trusting only the test CA) as
 * a resource server would; a failed fetch is not cached, so the next request tries again.
 */
export function publishedKeys(options: { readonly jwksUri: string; readonly caPem: string }): () => Promise<KeySet> {
  let keys: Promise<KeySet> | undefined;
  return () => {
    keys ??= fetchJson(options.jwksUri, options.caPem).then((set) => createLocalJWKSet(set as JSONWebKeySet));
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const loadKeys = publishedKeys(options);
  return async (token) => {
    const { payload } = await jwtVerify(token, await loadKeys(), {
      issuer: options.issuer,
      audience: [EXCHANGE_APP_AUDIENCE, EXCHANGE_DELEGATED_AUDIENCE],
      algorithms: ['RS256'],
      requiredClaims: ['exp'],
    });
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    if (audiences.includes(EXCHANGE_APP_AUDIENCE)) {
      const roles = Array.isArray(payload.roles) ? payload.roles : [];
      if (!roles.includes(SEND_AS_APP_ROLE)) throw new Error(`app-only token without the ${SEND_AS_APP_ROLE} role`);
    } else {
      const scopes = typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
      if (!scopes.includes(SEND_SCOPE)) throw new Error(`delegated token without the ${SEND_SCOPE} scope`);
    }
    return payload;
  };
}

function fetchJson(url: string, caPem: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    get(url, { ca: caPem, rejectUnauthorized: true }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${url}: HTTP ${res.statusCode ?? 0}`));
          return;
        }
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          reject(error as Error);
        }
      });
    }).on('error', reject);
  });
}
