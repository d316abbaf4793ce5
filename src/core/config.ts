/**
 * The configuration file: one zod definition that validates the file, types the code,
 * and generates the JSON Schema that editors use (config.schema.json).
 * Every `describe()` text is what an administrator reads in their editor.
 */
import { z } from 'zod';
import { CLOUDS, CLOUD_NAMES, type CloudName } from './clouds.js';
import { accountSchema } from './config-accounts.js';
import { emailAddress, port } from './config-fields.js';
import { listenSchema } from './config-listen.js';

export { EXCHANGE_MAX_CONNECTIONS } from './config-fields.js';

const upstreamSchema = z
  .strictObject({
    host: z.string().optional().describe("SMTP submission host; defaults to the cloud's (smtp.office365.com)."),
    port: port.default(587).describe('Submission port; STARTTLS is required.'),
    caFile: z
      .string()
      .optional()
      .describe('PEM file with an extra CA to trust (testing or TLS inspection); the system CAs stay trusted.'),
    minTlsVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Oldest TLS version to speak upstream.'),
    connectionTimeoutSeconds: z.number().positive().default(60),
  })
  .describe('The Microsoft 365 SMTP endpoint.');

/** One request to Graph may carry at most 4 MB (https://learn.microsoft.com/graph/api/user-sendmail). */
const UPLOAD_CHUNK_UNIT = 320 * 1024;

const graphSchema = z
  .strictObject({
    baseUrl: z
      .url({ protocol: /^https$/, message: 'expected an https:// URL' })
      .optional()
      .describe("Microsoft Graph endpoint with its version; defaults to the cloud's (https://graph.microsoft.com/v1.0)."),
    caFile: z.string().optional().describe('PEM file with an extra CA to trust for Graph (testing or TLS inspection); the system CAs stay trusted.'),
    mimeMaxBytes: z
      .number()
      .int()
      .positive()
      .max(3_000_000)
      .default(3_000_000)
      .describe('Messages up to this size go as MIME in one sendMail request (base64 must stay under the 4 MB request limit); larger ones go as a draft with upload sessions.'),
    uploadChunkBytes: z
      .number()
      .int()
      .positive()
      .max(12 * UPLOAD_CHUNK_UNIT)
      .multipleOf(UPLOAD_CHUNK_UNIT, 'expected a multiple of 327680 (320 KiB)')
      .default(10 * UPLOAD_CHUNK_UNIT)
      .describe('Bytes per upload-session request for large attachments: a multiple of 320 KiB, at most 3.75 MiB (4 MB per request).'),
    requestTimeoutSeconds: z.number().positive().default(120).describe('Longest wait for one Graph request.'),
  })
  .describe('The Microsoft Graph endpoint, for accounts with upstream "graph" or graphFallback.');

const identitySchema = z
  .strictObject({
    authorityHost: z
      .url({ protocol: /^https$/, message: 'expected an https:// URL' })
      .optional()
      .describe("Microsoft Entra sign-in host; defaults to the cloud's (https://login.microsoftonline.com)."),
    caFile: z.string().optional().describe('PEM file with an extra CA to trust for the identity provider.'),
  })
  .describe('The Microsoft Entra endpoint.');

const deliverySchema = z
  .strictObject({
    retryDelaysSeconds: z
      .array(z.number().positive())
      .min(1)
      .default([60, 300, 900, 1800, 3600, 7200, 14400, 28800])
      .describe('Wait after the 1st, 2nd, ... failed attempt; the last value repeats until the lifetime ends.'),
    maxQueueLifetimeHours: z
      .number()
      .positive()
      .default(120)
      .describe('Give up after this long and send a delivery status notification to the sender (5 days by default).'),
    throttleBackoffSeconds: z
      .array(z.number().positive())
      .min(1)
      .default([30, 60, 120, 300])
      .describe('Pause of an account after Exchange throttles it (4.3.2), growing while throttling continues.'),
    holdRetrySeconds: z
      .number()
      .positive()
      .default(300)
      .describe('While an account is held for a sign-in problem, try its credentials again this often.'),
    identityRetrySeconds: z
      .number()
      .positive()
      .default(60)
      .describe('While the identity provider (Microsoft Entra) cannot be reached, ask it for a token again this often.'),
    upstreamRetrySeconds: z
      .number()
      .positive()
      .default(60)
      .describe('While Microsoft 365 cannot be reached (or STARTTLS fails), wait this long before the next connection.'),
    tlsFailuresBeforeHold: z
      .number()
      .int()
      .positive()
      .default(3)
      .describe('After this many STARTTLS/TLS failures in a row, hold the account and warn loudly (nothing is ever sent without TLS).'),
    upstreamOutageWarningMinutes: z
      .number()
      .positive()
      .default(5)
      .describe('`status` turns WARNING when Microsoft 365 has been unreachable for this long.'),
    stopTimeoutSeconds: z
      .number()
      .positive()
      .default(15)
      .describe(
        'At stop (service stop, SIGTERM), how long sends already under way may take to finish; after it they are abandoned and sent again at the next start (their message stays queued).',
      ),
  })
  .describe('Retries and limits of upstream delivery.');

const secretsSchema = z
  .strictObject({
    keyStore: z
      .enum(['keychain', 'file'])
      .default('keychain')
      .describe(
        'Where the key that seals tokens and secrets lives: the OS keychain, or (weaker, warned at every start) a 0600 file in the data folder.',
      ),
  })
  .describe('Secrets at rest.');

const alertsSchema = z
  .strictObject({
    notify: z
      .array(emailAddress)
      .default([])
      .describe('Administrators who get a notice by e-mail, sent through the relay itself, before a sign-in or a secret lapses.'),
    thresholdsDays: z
      .array(z.number().positive())
      .default([14, 7, 1])
      .describe('Warn this many days before a predicted refresh-token expiry or a client secret expiry.'),
  })
  .describe('Warnings for the administrator.');

const healthSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Serve /healthz, /status and /metrics (Prometheus) over HTTP.'),
    host: z.string().default('127.0.0.1').describe('Address of the health endpoint; keep it on loopback.'),
    port: z.number().int().min(0).max(65535).default(9465).describe('Port of the health endpoint (0 picks a free port, for tests).'),
    allowedHosts: z
      .array(z.string().min(1))
      .default([])
      .describe('Host header values accepted besides loopback names and health.host (e.g. the name a LAN monitor uses); anything else is 421, against DNS rebinding.'),
    tokenFile: z
      .string()
      .optional()
      .describe('File (owner-only) holding a bearer token that /status and /metrics require (Authorization: Bearer ...); relative paths are relative to this file.'),
    tokenEnv: z.string().optional().describe('Environment variable holding that bearer token, instead of tokenFile.'),
  })
  .refine((health) => health.tokenFile === undefined || health.tokenEnv === undefined, {
    message: 'give tokenFile or tokenEnv, not both',
    path: ['tokenEnv'],
  })
  .describe('Health endpoint and metrics for monitoring tools (off by default).');

const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    file: z.boolean().default(true).describe('Also write JSON logs to <dataDir>/logs/relay.log.'),
  })
  .describe('Logging.');

const configObject = z.strictObject({
    $schema: z.string().optional(),
    cloud: z
      .enum(CLOUD_NAMES)
      .default('global')
      .describe('Microsoft cloud: sets the sign-in host, the SMTP host and the scopes in one word (each can still be overridden).'),
    listen: listenSchema.prefault({}),
    dataDir: z
      .string()
      .default('./data')
      .describe('Folder for the spool, logs and state; relative paths are relative to this file.'),
    accounts: z.array(accountSchema).min(1, 'configure at least one account'),
    upstream: upstreamSchema.prefault({}),
    identity: identitySchema.prefault({}),
    graph: graphSchema.prefault({}),
    delivery: deliverySchema.prefault({}),
    secrets: secretsSchema.prefault({}),
    alerts: alertsSchema.prefault({}),
    health: healthSchema.prefault({}),
    log: logSchema.prefault({}),
  });

export const configSchema = configObject
  .superRefine((config, ctx) => {
    // One sender address must lead to exactly one mailbox, or the relay could not choose.
    const owner = new Map<string, string>();
    config.accounts.forEach((account, index) => {
      for (const address of [account.mailbox, ...account.sendAs]) {
        const key = address.toLowerCase();
        const previous = owner.get(key);
        if (previous !== undefined && previous !== account.name) {
          ctx.addIssue({
            code: 'custom',
            path: ['accounts', index, 'sendAs'],
            message: `${address} is already a sender of account "${previous}"`,
          });
        }
        owner.set(key, account.name);
      }
    });
    const names = new Set<string>();
    config.accounts.forEach((account, index) => {
      if (names.has(account.name)) {
        ctx.addIssue({ code: 'custom', path: ['accounts', index, 'name'], message: `duplicate account name "${account.name}"` });
      }
      names.add(account.name);
    });
    config.listen.rewriteSender.forEach((rule, index) => {
      if (!names.has(rule.account)) {
        ctx.addIssue({ code: 'custom', path: ['listen', 'rewriteSender', index, 'account'], message: `no account named "${rule.account}"` });
      }
    });
  })
  .transform(applyCloud);

type ParsedConfig = z.output<typeof configObject>;
type ParsedAccount = ParsedConfig['accounts'][number];

/** App-only sign-in, with the scope resolved from the cloud. */
export type ClientCredentialsAuth = Extract<ParsedAccount['auth'], { method: 'client-credentials' }> & { scope: string };
/** Delegated sign-in, with the scopes resolved from the cloud. */
export type DelegatedAuth = Extract<ParsedAccount['auth'], { method: 'delegated' }> & { scopes: string[] };
export type AccountConfig = Omit<ParsedAccount, 'auth'> & { auth: ClientCredentialsAuth | DelegatedAuth };
/** The configuration as the relay uses it: defaults applied, the cloud's hosts and scopes filled in. */
export type Config = Omit<ParsedConfig, 'accounts' | 'identity' | 'upstream' | 'graph'> & {
  accounts: AccountConfig[];
  identity: ParsedConfig['identity'] & { authorityHost: string };
  upstream: ParsedConfig['upstream'] & { host: string };
  /** Graph with the cloud's endpoint and the scopes a Graph token needs (graphFallback asks for these). */
  graph: ParsedConfig['graph'] & { baseUrl: string; appScope: string; delegatedScopes: string[] };
};

/** Fills what the cloud decides and the file left out: hosts and scopes. */
function applyCloud(config: ParsedConfig): Config {
  const cloud = CLOUDS[config.cloud];
  return {
    ...config,
    identity: { ...config.identity, authorityHost: config.identity.authorityHost ?? cloud.authorityHost },
    upstream: { ...config.upstream, host: config.upstream.host ?? cloud.smtpHost },
    graph: {
      ...config.graph,
      baseUrl: (config.graph.baseUrl ?? cloud.graphBaseUrl).replace(/\/+$/, ''),
      appScope: cloud.graphAppScope,
      delegatedScopes: [cloud.graphDelegatedScope, 'offline_access'],
    },
    accounts: config.accounts.map((account) => ({ ...account, auth: withScopes(account.auth, cloud, account.upstream) })),
  };
}

function withScopes(auth: ParsedAccount['auth'], cloud: (typeof CLOUDS)[CloudName], upstream: ParsedAccount['upstream']): AccountConfig['auth'] {
  // A Graph account's token is for Graph: Mail.Send (docs/graph.md).
  const graph = upstream === 'graph';
  if (auth.method === 'client-credentials') return { ...auth, scope: auth.scope ?? (graph ? cloud.graphAppScope : cloud.appScope) };
  // offline_access asks for the refresh token that keeps the sign-in alive (docs/microsoft-365.md).
  return { ...auth, scopes: auth.scopes ?? [graph ? cloud.graphDelegatedScope : cloud.delegatedScope, 'offline_access'] };
}

/** The JSON Schema for editors, generated from the same definition. */
export function configJsonSchema(): object {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
