/**
 * The configuration file: one zod definition that validates the file, types the code,
 * and generates the JSON Schema that editors use (config.schema.json).
 * Every `describe()` text is what an administrator reads in their editor.
 */
import { z } from 'zod';

const MEBIBYTE = 1024 * 1024;

/** Exchange Online: 3 concurrent SMTP AUTH connections per mailbox (M365.md, "limits"). */
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
      .describe('Client secret. Prefer clientSecretEnv so the secret is not in this file.'),
    clientSecretEnv: z
      .string()
      .min(1)
      .optional()
      .describe('Name of an environment variable that holds the client secret.'),
    scope: z
      .string()
      .default('https://outlook.office365.com/.default')
      .describe('Token scope; the default is right for Exchange Online SMTP with SMTP.SendAsApp.'),
  })
  .refine((auth) => auth.clientSecret !== undefined || auth.clientSecretEnv !== undefined, {
    message: 'give clientSecret or clientSecretEnv',
    path: ['clientSecret'],
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
    auth: z.discriminatedUnion('method', [clientCredentialsSchema]).describe('How the relay signs in for this mailbox.'),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(EXCHANGE_MAX_CONNECTIONS)
      .default(EXCHANGE_MAX_CONNECTIONS)
      .describe('Concurrent upstream connections; Exchange Online allows 3 per mailbox.'),
    rate: rateSchema.prefault({}),
  })
  .describe('A mailbox the relay sends through.');

const upstreamSchema = z
  .strictObject({
    host: z.string().default('smtp.office365.com').describe('SMTP submission host (smtp.office365.us for GCC High).'),
    port: port.default(587).describe('Submission port; STARTTLS is required.'),
    caFile: z
      .string()
      .optional()
      .describe('PEM file with an extra CA to trust (testing or TLS inspection); the system CAs stay trusted.'),
    minTlsVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Oldest TLS version to speak upstream.'),
    connectionTimeoutSeconds: z.number().positive().default(60),
  })
  .describe('The Microsoft 365 SMTP endpoint.');

const identitySchema = z
  .strictObject({
    authorityHost: z
      .url({ protocol: /^https$/, message: 'expected an https:// URL' })
      .default('https://login.microsoftonline.com')
      .describe('Microsoft Entra sign-in host (login.microsoftonline.us for US Government).'),
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
  })
  .describe('Retries and limits of upstream delivery.');

const logSchema = z
  .strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    file: z.boolean().default(true).describe('Also write JSON logs to <dataDir>/logs/relay.log.'),
  })
  .describe('Logging.');

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    listen: listenSchema.prefault({}),
    dataDir: z
      .string()
      .default('./data')
      .describe('Folder for the spool, logs and state; relative paths are relative to this file.'),
    accounts: z.array(accountSchema).min(1, 'configure at least one account'),
    upstream: upstreamSchema.prefault({}),
    identity: identitySchema.prefault({}),
    delivery: deliverySchema.prefault({}),
    log: logSchema.prefault({}),
  })
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
  });

export type Config = z.output<typeof configSchema>;
export type AccountConfig = Config['accounts'][number];
export type ClientCredentialsAuth = Extract<AccountConfig['auth'], { method: 'client-credentials' }>;

/** The JSON Schema for editors, generated from the same definition. */
export function configJsonSchema(): object {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
