/** The `accounts` section: the mailboxes the relay sends through, and how each signs in. */
import { z } from 'zod';
import { EXCHANGE_MAX_CONNECTIONS, emailAddress } from './config-fields.js';

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

export const accountSchema = z
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
