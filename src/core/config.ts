/**
 * The configuration file: one zod definition that validates the file, types the code,
 * and generates the JSON Schema that editors use (config.schema.json).
 * Every `describe()` text is what an administrator reads in their editor.
 */
import { z } from 'zod';
import { CLOUDS, CLOUD_NAMES, type CloudName } from './clouds.js';

const MEBIBYTE = 1024 * 1024;

/** Exchange Online: 3 concurrent SMTP AUTH connections per mailbox (docs/microsoft-365.md, "Limits"). */
export const EXCHANGE_MAX_CONNECTIONS = 3;

const port = z.number().int().min(1).max(65535);
const emailAddress = z.email({ message: 'expected an e-mail address such as sage@contoso.com' });
const clientAddress = z
  .union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()])
  .describe('An IP address or CIDR range, e.g. "192.168.1.20" or "192.168.1.0/24".');

const listenSchema = z
  .strictObject({
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Address to listen on. Keep 127.0.0.1 unless LAN devices must send; then also set allowClients.'),
    port: z.number().int().min(0).max(65535).default(2525).describe('SMTP port for the legacy programs (0 picks a free port, for tests).'),
    allowClients: z
      .array(clientAddress)
      .default([])
      .describe('Clients outside loopback that may connect. Loopback is always allowed; everything else is refused at connect.'),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(35 * MEBIBYTE)
      .describe('Largest message accepted (advertised with SIZE, RFC 1870). Exchange Online accepts 35 MB by default.'),
    maxRecipients: z
      .number()
      .int()
      .positive()
      .default(500)
      .describe('Recipients per message; Exchange Online allows 500 by default.'),
    name: z.string().optional().describe('Host name in the greeting; defaults to the machine name.'),
    perClient: z
      .strictObject({
        maxConnections: z
          .number()
          .int()
          .positive()
          .default(20)
          .describe('Connections one client address may hold at once; more get 421 4.7.0 at connect.'),
        messagesPerMinute: z
          .number()
          .int()
          .positive()
          .default(120)
          .describe('Messages one client address may start in any 60 seconds; more get 451 4.7.1 at MAIL FROM.'),
        includeLoopback: z
          .boolean()
          .default(false)
          .describe(
            'Limit programs on this machine too. Off by default: the local program (e.g. Sage sending a batch of hundreds) is what the relay queues for.',
          ),
      })
      .prefault({})
      .describe('Limits per client address, so one runaway program cannot crowd out the others.'),
    tls: z
      .strictObject({
        starttls: z.boolean().default(true).describe('Offer STARTTLS (RFC 3207) on the SMTP port.'),
        implicitTlsPort: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .optional()
          .describe('Also listen with implicit TLS on this port (RFC 8314, usually 465); off when absent.'),
        certFile: z.string().optional().describe('PEM certificate (chain); without it the relay makes a self-signed one in <dataDir>/tls/.'),
        keyFile: z.string().optional().describe('PEM private key for certFile.'),
        minVersion: z
          .enum(['TLSv1', 'TLSv1.1', 'TLSv1.2'])
          .default('TLSv1.2')
          .describe('Oldest TLS version clients may use; lower it only for old printers that cannot do TLS 1.2.'),
      })
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
        message: 'give certFile and keyFile together',
        path: ['keyFile'],
      })
      .prefault({})
      .describe('TLS for local clients.'),
    auth: z
      .enum(['off', 'optional', 'required', 'accept-any'])
      .default('optional')
      .describe(
        'Local SMTP AUTH (PLAIN, LOGIN) with the users of `smtp-oauth-relay user add`: "optional" lets clients choose, "required" refuses MAIL without it, "accept-any" accepts any credentials for programs that insist on AUTH.',
      ),
    bareLineFeedClients: z
      .array(clientAddress)
      .default([])
      .describe(
        'Clients (old printers, scanners) allowed to end lines with a bare LF and DATA with "\\n.\\n". Everyone else, this machine included unless listed ("127.0.0.1"), must end DATA with CRLF.CRLF (RFC 5321 4.1.1.4; SMTP smuggling, docs/message-integrity.md).',
      ),
    connections: z
      .strictObject({
        loopback: z
          .number()
          .int()
          .positive()
          .default(100)
          .describe('Connections programs on this machine may hold at once, all together; LAN devices cannot take these slots.'),
        lan: z
          .number()
          .int()
          .positive()
          .default(50)
          .describe('Connections the allowClients devices may hold at once, all together; programs on this machine cannot take these slots.'),
        sessionSeconds: z
          .number()
          .positive()
          .default(3600)
          .describe('Longest a connection may stay open, however busy; then 421 4.4.2 and close (the client reconnects). Bounds clients that trickle bytes.'),
        dataSeconds: z
          .number()
          .positive()
          .default(600)
          .describe('Longest a message may take from DATA to its final dot; then 421 4.4.2, close, and nothing is kept (RFC 5321 4.5.3.2.6 allows 10 minutes).'),
      })
      .prefault({})
      .describe('Connection slots and deadlines, so that slow or many clients cannot lock others out.'),
    rewriteSender: z
      .array(
        z.strictObject({
          client: clientAddress,
          account: z.string().min(1).describe('Account whose mailbox becomes the sender.'),
        }),
      )
      .default([])
      .describe("Clients (devices that invent senders) whose envelope sender and From header become the account's mailbox; the original goes to Reply-To."),
  })
  .describe('Where the relay accepts mail from legacy programs.');

const rateSchema = z
  .strictObject({
    messages: z.number().int().positive().default(30),
    perSeconds: z.number().positive().default(60),
  })
  .describe('At most `messages` submissions in any `perSeconds` window. Exchange Online allows 30 a minute per mailbox.');

const clientCredentialsSchema = z
  .strictObject({
    method: z.literal('client-credentials').describe('App-only sign-in with a client secret (SMTP.SendAsApp).'),
    tenantId: z.string().min(1).describe('Directory (tenant) ID or verified domain of the Microsoft 365 tenant.'),
    clientId: z.string().min(1).describe('Application (client) ID of the app registration.'),
    clientSecret: z
      .string()
      .min(1)
      .optional()
      .describe('Client secret in plain text. Prefer `smtp-oauth-relay secret set`, which seals it under the OS keychain.'),
    clientSecretEnv: z
      .string()
      .min(1)
      .optional()
      .describe('Name of an environment variable that holds the client secret.'),
    clientSecretExpiresOn: z.iso
      .date()
      .optional()
      .describe('Expiry date of the client secret (YYYY-MM-DD), to be warned before it lapses.'),
    scope: z
      .string()
      .optional()
      .describe("Token scope; defaults to the cloud's Exchange Online resource, e.g. https://outlook.office365.com/.default."),
    certificateFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PEM certificate registered on the app (Certificates & secrets) to sign in with instead of a secret; its private key comes from privateKeyFile or from `smtp-oauth-relay secret set` (sealed). Its expiry is warned like a secret\'s.',
      ),
    privateKeyFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM private key of certificateFile, in a file only the service's account may read (refused when others can)."),
  })
  .refine((auth) => auth.clientSecret === undefined || auth.clientSecretEnv === undefined, {
    message: 'give clientSecret or clientSecretEnv, not both',
    path: ['clientSecretEnv'],
  })
  .refine((auth) => auth.certificateFile === undefined || (auth.clientSecret === undefined && auth.clientSecretEnv === undefined), {
    message: 'give a client secret or a certificate, not both',
    path: ['certificateFile'],
  })
  .refine((auth) => auth.privateKeyFile === undefined || auth.certificateFile !== undefined, {
    message: 'privateKeyFile needs certificateFile',
    path: ['privateKeyFile'],
  });

const delegatedSchema = z.strictObject({
  method: z.literal('delegated').describe('A person signs in once as the mailbox (`smtp-oauth-relay login`); the relay keeps the sign-in alive.'),
  tenantId: z
    .string()
    .min(1)
    .default('organizations')
    .describe('Directory (tenant) ID or domain; "organizations" lets any work account sign in.'),
  clientId: z.string().min(1).describe('Application (client) ID of the public-client app registration.'),
  scopes: z
    .array(z.string().min(1))
    .optional()
    .describe('Token scopes; defaults to the cloud\'s SMTP.Send scope plus offline_access.'),
  keepAliveHours: z
    .number()
    .positive()
    .default(24)
    .describe('Redeem the refresh token this often, which keeps its 90-day window sliding.'),
});

const accountSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, 'expected lowercase letters, digits and dashes')
      .describe('Short name used in logs and commands.'),
    mailbox: emailAddress.describe('The Microsoft 365 mailbox that authenticates and sends.'),
    sendAs: z
      .array(emailAddress)
      .default([])
      .describe('Further sender addresses this mailbox may send as (the mailbox itself is always allowed).'),
    auth: z.discriminatedUnion('method', [clientCredentialsSchema, delegatedSchema]).describe('How the relay signs in for this mailbox.'),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(EXCHANGE_MAX_CONNECTIONS)
      .default(EXCHANGE_MAX_CONNECTIONS)
      .describe('Concurrent upstream connections; Exchange Online allows 3 per mailbox.'),
    rate: rateSchema.prefault({}),
    upstream: z
      .enum(['smtp', 'graph'])
      .default('smtp')
      .describe(
        'How messages go to Microsoft 365: "smtp" (SMTP AUTH with XOAUTH2) or "graph" (Microsoft Graph sendMail, for tenants where SMTP AUTH is off; see docs/graph.md).',
      ),
    graphFallback: z
      .boolean()
      .default(false)
      .describe('With upstream "smtp": when Exchange answers 535 5.7.139 (SMTP AUTH disabled), deliver through Microsoft Graph instead (app-only accounts; shown in status).'),
    saveToSentItems: z
      .boolean()
      .default(true)
      .describe('Graph: keep a copy in the mailbox\'s Sent Items, as SMTP AUTH does (messages sent as a draft always keep one).'),
  })
  .refine((account) => !account.graphFallback || account.auth.method === 'client-credentials', {
    message: 'graphFallback needs app-only sign-in (client-credentials); a delegated account that must use Graph sets upstream "graph" and signs in for it',
    path: ['graphFallback'],
  })
  .describe('A mailbox the relay sends through.');

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
