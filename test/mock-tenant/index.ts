/**
 * A local stand-in for a Microsoft 365 tenant, made of real parts on 127.0.0.1:
 * an identity provider (Entra ID) that the real MSAL talks to over HTTPS, and an SMTP
 * submission server (Exchange Online) that checks its tokens. Used by tests, the demo and the
 * benchmark; `scripts/mock-tenant.ts` runs one on fixed ports.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import type { Clock } from '../../src/core/clock.js';
import type { configSchema } from '../../src/core/config.js';
import { createTestCertificates, writeCaFile } from './certs.js';
import { MockIdentityProvider } from './identity-provider.js';
import { createTokenVerifier } from './token-verifier.js';
import { MockExchange } from './upstream.js';
import { MockGraph } from './graph-stand-in.js';
import { createGraphTokenCheck } from './graph-token-check.js';

export { EXCHANGE_REPLIES, type SmtpReply } from './exchange-replies.js';
export { MockIdentityProvider, type TokenEndpointFailure } from './identity-provider.js';
export {
  EXCHANGE_DELEGATED_SCOPE,
  type DeviceCodeSettings,
  type DeviceCodeState,
  type IssuedRefreshToken,
  type RefreshFailure,
  type RefreshTokenState,
} from './delegated-grants.js';
export { completeBrowserSignIn, openDeviceLoginPage, type BrowserSignInResult } from './browser-stand-in.js';
export { DROP_DURING_DATA, MockExchange, type DataReplyHold, type ReceivedMessage, type ScriptContext, type ScriptPhase, type ScriptStep } from './upstream.js';
export { createTestCertificates, writeCaFile, type TestCertificates } from './certs.js';
export { MockGraph, type GraphOperation, type GraphScriptStep, type GraphSentMessage } from './graph-stand-in.js';

/** Fixed identities of the mock tenant (a mock: these are not secrets). */
export const MOCK_TENANT_ID = '00000000-0000-4000-8000-000000000001';
export const MOCK_CLIENT_ID = '11111111-1111-4111-8111-111111111111';
export const MOCK_CLIENT_SECRET = 'mock-tenant-secret';
/** Public client (no secret) for delegated sign-in: authorization code + PKCE, device code. */
export const MOCK_PUBLIC_CLIENT_ID = '44444444-4444-4444-8444-444444444444';
/** What `smtp-oauth-relay login` asks for (Exchange Online SMTP AUTH as the signed-in user). */
export const MOCK_DELEGATED_SCOPES = ['https://outlook.office.com/SMTP.Send', 'offline_access'] as const;
/** Object id of the app's service principal in the tenant. */
export const MOCK_SERVICE_PRINCIPAL_ID = '33333333-3333-4333-8333-333333333333';
export const MOCK_MAILBOX = 'sage@contoso.example';
export const MOCK_SEND_AS = 'invoices@contoso.example';
export const MOCK_MAILBOXES = [MOCK_MAILBOX, 'scanner@contoso.example'] as const;

/** The configuration file's shape before defaults (what a JSON file holds). */
export type RelayConfigInput = z.input<typeof configSchema>;

export interface MockTenantOptions {
  /** Folder for ca.pem; a temporary folder (removed by close) when not given. */
  readonly dir?: string;
  readonly idpPort?: number;
  readonly smtpPort?: number;
  readonly mailboxes?: readonly string[];
  readonly maxConnectionsPerMailbox?: number;
  readonly rate?: { readonly messages: number; readonly perSeconds: number };
  readonly tokenLifetimeSeconds?: number;
  /** Clock of the fake Exchange (rate limit, acceptedAt). */
  readonly clock?: Clock;
  /**
   * Clock of the identity provider's bookkeeping: authorization and device code expiry, and
   * the 90-day refresh-token inactivity (AADSTS700082). Signed JWTs keep wall-clock iat/exp.
   */
  readonly identityClock?: Clock;
  /** 'strict' (default): a refresh token works once; 'lenient': it stays valid after rotation. */
  readonly refreshTokenRotation?: 'strict' | 'lenient';
  /** Also start the Microsoft Graph stand-in (graph-stand-in.ts); `sendAs` as for Exchange. */
  readonly graph?: boolean | { readonly sendAs?: Readonly<Record<string, readonly string[]>> };
  /** PEM certificate registered on the app, for certificate credentials (client assertions). */
  readonly clientCertificatePem?: string;
}

export interface MockTenant {
  readonly caFile: string;
  readonly caPem: string;
  /** `https://127.0.0.1:PORT`: the relay's identity.authorityHost. */
  readonly authorityHost: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Client id of the public client app for delegated sign-in (MOCK_PUBLIC_CLIENT_ID). */
  readonly publicClientId: string;
  readonly identity: MockIdentityProvider;
  readonly upstream: MockExchange;
  /** The Graph stand-in, when `graph` was asked for; relayConfig then points graph.baseUrl at it. */
  readonly graph: MockGraph | undefined;
  /**
   * A configuration valid against configSchema that sends through this tenant: account "sage"
   * (sage@contoso.example, may send as invoices@contoso.example) with client credentials.
   * `listen` is left at its defaults: tests should set `listen.port`. Top-level keys of
   * `overrides` replace the generated ones, except listen/upstream/identity/graph/delivery/log,
   * whose fields are merged.
   */
  relayConfig(dataDir: string, overrides?: Partial<RelayConfigInput>): RelayConfigInput;
  close(): Promise<void>;
}

export async function startMockTenant(options: MockTenantOptions = {}): Promise<MockTenant> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'mock-tenant-')));
  const certificates = await createTestCertificates();
  const caFile = await writeCaFile(certificates, dir);
  const mailboxes = options.mailboxes ?? MOCK_MAILBOXES;
  const identity = await MockIdentityProvider.start({
    certificates,
    tenantId: MOCK_TENANT_ID,
    clientId: MOCK_CLIENT_ID,
    clientSecret: MOCK_CLIENT_SECRET,
    publicClientId: MOCK_PUBLIC_CLIENT_ID,
    servicePrincipalId: MOCK_SERVICE_PRINCIPAL_ID,
    delegatedUser: mailboxes[0] ?? MOCK_MAILBOX,
    ...(options.idpPort === undefined ? {} : { port: options.idpPort }),
    ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
    ...(options.identityClock === undefined ? {} : { clock: options.identityClock }),
    ...(options.refreshTokenRotation === undefined ? {} : { refreshTokenRotation: options.refreshTokenRotation }),
    ...(options.clientCertificatePem === undefined ? {} : { clientCertificatePem: options.clientCertificatePem }),
  });
  let upstream: MockExchange;
  try {
    upstream = await MockExchange.start({
      certificates,
      verifyToken: createTokenVerifier({ jwksUri: identity.jwksUri, issuer: identity.issuerUrl, caPem: certificates.caPem }),
      mailboxes,
      ...(options.smtpPort === undefined ? {} : { port: options.smtpPort }),
      ...(options.maxConnectionsPerMailbox === undefined ? {} : { maxConnectionsPerMailbox: options.maxConnectionsPerMailbox }),
      ...(options.rate === undefined ? {} : { rate: options.rate }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  } catch (error) {
    await identity.close();
    throw error;
  }
  let graph: MockGraph | undefined;
  if (options.graph !== undefined && options.graph !== false) {
    const sendAs = options.graph === true ? undefined : options.graph.sendAs;
    graph = await MockGraph.start({
      certificates,
      checkToken: createGraphTokenCheck({ jwksUri: identity.jwksUri, issuer: identity.issuerUrl, caPem: certificates.caPem }),
      mailboxes,
      sendAs: sendAs ?? { [MOCK_MAILBOX]: [MOCK_SEND_AS] },
    }).catch(async (error: unknown) => {
      await Promise.all([upstream.close(), identity.close()]);
      throw error;
    });
  }

  const relayConfig = (dataDir: string, overrides: Partial<RelayConfigInput> = {}): RelayConfigInput => {
    const base: RelayConfigInput = {
      dataDir,
      accounts: [
        {
          name: 'sage',
          mailbox: MOCK_MAILBOX,
          sendAs: [MOCK_SEND_AS],
          auth: { method: 'client-credentials', tenantId: MOCK_TENANT_ID, clientId: MOCK_CLIENT_ID, clientSecret: MOCK_CLIENT_SECRET },
        },
      ],
      upstream: { host: upstream.host, port: upstream.port, caFile },
      identity: { authorityHost: identity.authorityHost, caFile },
      ...(graph === undefined ? {} : { graph: { baseUrl: graph.baseUrl, caFile } }),
    };
    return {
      ...base,
      ...overrides,
      listen: { ...base.listen, ...overrides.listen },
      upstream: { ...base.upstream, ...overrides.upstream },
      identity: { ...base.identity, ...overrides.identity },
      ...(base.graph === undefined && overrides.graph === undefined ? {} : { graph: { ...base.graph, ...overrides.graph } }),
      delivery: { ...base.delivery, ...overrides.delivery },
      log: { ...base.log, ...overrides.log },
    };
  };

  return {
    caFile,
    caPem: certificates.caPem,
    get authorityHost() {
      return identity.authorityHost;
    },
    tenantId: MOCK_TENANT_ID,
    clientId: MOCK_CLIENT_ID,
    clientSecret: MOCK_CLIENT_SECRET,
    publicClientId: MOCK_PUBLIC_CLIENT_ID,
    identity,
    upstream,
    graph,
    relayConfig,
    async close() {
      await Promise.all([upstream.close(), identity.close(), graph?.close()]);
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
