/**
 * Microsoft Entra (identity provider) errors met while getting a token: which need a person
 * (held for sign-in: a user must sign in again; held for an administrator: the app registration,
 * its secret or consent must be fixed) and which are passing trouble (the provider is out of reach).
 * Codes: SOURCES.aadsts; OAuth `error` values: RFC 6749 5.2.
 */
import { SOURCES } from './sources.js';
import type { Condition } from './types.js';

const LOGIN = 'smtp-oauth-relay login --account {account}';

/** OAuth `error` values (RFC 6749 5.2, OIDC core 3.1.2.6) that no retry will fix. */
export const PERSON_MUST_ACT_OAUTH_ERRORS = [
  'invalid_client',
  'unauthorized_client',
  'invalid_grant',
  'invalid_scope',
  'invalid_resource',
  'invalid_tenant',
  'interaction_required',
  'consent_required',
  'login_required',
] as const;

export const ENTRA_CONDITIONS: readonly Condition[] = [
  {
    id: 'client-secret-invalid',
    when: {
      any: [
        { aadsts: ['AADSTS7000215', 'AADSTS7000222', 'AADSTS7000218'] },
        { text: /auth\.clientSecretEnv\) is not set|no client secret is (?:configured or )?stored|stored client secret could not be decrypted/i },
      ],
    },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'The client secret is wrong, expired or missing.',
    details: {
      AADSTS7000215: 'the client secret is wrong (use the secret value, not its ID)',
      AADSTS7000222: 'the client secret has expired; create a new one',
      AADSTS7000218: 'no client secret was sent',
    },
    fix: 'Create a new client secret for the app {clientId} in Microsoft Entra (Certificates & secrets), then: smtp-oauth-relay secret set --account {account}',
    source: SOURCES.aadsts,
  },
  {
    id: 'client-certificate-refused',
    when: { aadsts: ['AADSTS700027'] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'Entra refused the client assertion: it was not signed by a certificate registered on the app.',
    details: { AADSTS700027: 'the client assertion was not signed by a certificate registered on the app' },
    fix: 'Upload the certificate (auth.certificateFile) to the app {clientId} in Microsoft Entra (Certificates & secrets), or point auth.certificateFile at the registered one.',
    source: SOURCES.aadsts,
  },
  {
    id: 'consent-missing',
    when: { aadsts: ['AADSTS65001'] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: "Admin consent for the application's permissions is missing.",
    details: { AADSTS65001: 'admin consent is missing' },
    fix:
      'In Microsoft Entra, App registrations > the app with client id {clientId} > API permissions: Grant admin consent ' +
      '(or open https://login.microsoftonline.com/{tenantId}/adminconsent?client_id={clientId} as an administrator).',
    source: SOURCES.aadsts,
  },
  {
    id: 'unknown-app-or-tenant',
    when: { aadsts: ['AADSTS700016', 'AADSTS90002', 'AADSTS900023', 'AADSTS500011', 'AADSTS70011'] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'The application (client) id, the tenant, the resource or the scope is not known.',
    details: {
      AADSTS700016: 'the application (client) ID is not known in this tenant',
      AADSTS90002: 'the tenant was not found',
      AADSTS900023: 'the tenant ID is not valid',
      AADSTS500011: 'the resource (Office 365 Exchange Online) is not available in this tenant',
      AADSTS70011: 'the requested scope is not valid',
    },
    fix: "Check accounts[].auth.clientId ({clientId}) and tenantId ({tenantId}) against the app registration's Overview page in Microsoft Entra.",
    source: SOURCES.aadsts,
  },
  {
    id: 'account-blocked',
    when: { aadsts: ['AADSTS53003', 'AADSTS50057'] },
    action: 'keep',
    event: 'admin-action-required',
    meaning: 'Conditional Access blocks the sign-in, or the user account is disabled.',
    details: { AADSTS53003: 'blocked by Conditional Access', AADSTS50057: 'the user account is disabled' },
    fix: 'An Entra administrator must allow the sign-in (Conditional Access policy, or enable the user), then: ' + LOGIN,
    source: SOURCES.aadsts,
  },
  {
    id: 'sign-in-again',
    when: {
      any: [
        { aadsts: ['AADSTS700082', 'AADSTS70008', 'AADSTS50173', 'AADSTS70043', 'AADSTS50076', 'AADSTS50126'] },
        { text: /never signed in|sign-in required|smtp-oauth-relay login/i },
      ],
    },
    action: 'keep',
    event: 'sign-in-refused',
    meaning: 'The sign-in lapsed or was revoked (90 days unused, password reset, Conditional Access): a person must sign in again.',
    details: {
      AADSTS700082: 'the refresh token expired after 90 days without use; sign in again',
      AADSTS70008: 'the grant expired or was revoked; sign in again',
      AADSTS50173: 'the grant was revoked; sign in again',
      AADSTS70043: 'Conditional Access sign-in frequency requires a new sign-in',
      AADSTS50076: 'multi-factor authentication is required; sign in again',
      AADSTS50126: 'invalid user name or password',
    },
    fix: LOGIN,
    source: `${SOURCES.aadsts}; ${SOURCES.refreshTokens}`,
  },
];

/** After the TLS rows, so that a certificate problem towards the identity provider is named as such. */
export const IDENTITY_FALLBACK_CONDITIONS: readonly Condition[] = [
  {
    id: 'identity-refused',
    when: { any: [{ origin: 'identity', personMustAct: true }, { origin: 'identity', oauthErrors: PERSON_MUST_ACT_OAUTH_ERRORS }] },
    action: 'keep',
    event: 'sign-in-refused',
    meaning: 'The identity provider refused the request and only a person can go on.',
    fix: { 'client-credentials': 'Check the app registration with smtp-oauth-relay doctor --account {account}.', delegated: LOGIN },
    source: SOURCES.rfc6749,
  },
  {
    id: 'identity-provider-unreachable',
    when: { origin: 'identity' },
    action: 'keep',
    event: 'identity-provider-unreachable',
    meaning: 'The identity provider (Microsoft Entra) could not be reached or failed; no token, so nothing is sent for now.',
    fix: 'Check that this machine reaches {authority} (DNS, firewall, proxy); the relay tries again by itself.',
    source: SOURCES.nodeErrors,
  },
];
