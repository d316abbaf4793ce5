import { describe, expect, it } from 'vitest';
import { findFix, problemOf } from './fixes.js';

const sage = { account: 'sage', mailbox: 'sage@contoso.com', clientId: 'app-1', tenantId: 'contoso.onmicrosoft.com', host: 'smtp.office365.com', port: 587 };

describe('findFix', () => {
  it('gives the Set-CASMailbox line for 535 5.7.139', () => {
    const fix = findFix({ text: '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.' }, sage);
    expect(fix?.rule).toBe('smtp-auth-disabled');
    expect(fix?.fix).toContain('Set-CASMailbox -Identity sage@contoso.com -SmtpClientAuthenticationDisabled $false');
    expect(fix?.fix).toContain('Set-TransportConfig -SmtpClientAuthenticationDisabled $false');
  });

  it('tells app-only and delegated accounts apart for 535 5.7.3', () => {
    const text = '535 5.7.3 Authentication unsuccessful';
    const appOnly = findFix({ text }, { ...sage, method: 'client-credentials' });
    expect(appOnly?.fix).toContain('New-ServicePrincipal -AppId app-1');
    expect(appOnly?.fix).toContain('Add-MailboxPermission -Identity sage@contoso.com');
    const delegated = findFix({ text }, { ...sage, method: 'delegated' });
    expect(delegated?.fix).toContain('smtp-oauth-relay login --account sage');
    expect(delegated?.fix).not.toContain('New-ServicePrincipal');
  });

  it('does not take 5.7.30 or 5.7.139 for 5.7.3', () => {
    expect(findFix({ text: '550 5.7.30 something else' })?.rule).not.toBe('authentication-unsuccessful');
    expect(findFix({ text: '535 5.7.139 x' })?.rule).toBe('smtp-auth-disabled');
  });

  it.each([
    ['550 5.7.60 SMTP; Client does not have permissions to send as this sender', 'send-as-denied', 'Send As'],
    ['Account "sage": cannot get a token: admin consent is missing. (AADSTS65001)', 'consent-missing', 'client_id=app-1'],
    ['AADSTS7000215: Invalid client secret provided.', 'client-secret-invalid', 'secret set --account sage'],
    ['AADSTS7000222: The provided client secret keys are expired.', 'client-secret-invalid', 'secret set --account sage'],
    ['invalid_grant: AADSTS700082: The refresh token has expired due to inactivity.', 'sign-in-again', 'smtp-oauth-relay login --account sage'],
    ['AADSTS50173: The provided grant has expired', 'sign-in-again', 'login --account sage'],
    ['AADSTS700016: Application with identifier app-1 was not found', 'unknown-app-or-tenant', 'contoso.onmicrosoft.com'],
    ['AADSTS90002: Tenant not found', 'unknown-app-or-tenant', 'clientId'],
  ])('%s -> %s', (text, rule, expected) => {
    const fix = findFix({ text }, sage);
    expect(fix?.rule).toBe(rule);
    expect(fix?.fix).toContain(expected);
  });

  it.each(['CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'SELF_SIGNED_CERT_IN_CHAIN'])(
    'a certificate error (%s) names the host and upstream.caFile',
    (code) => {
      const fix = findFix({ text: 'Connection failed', errorCodes: ['ESOCKET', code] }, sage);
      expect(fix?.rule).toBe('certificate-untrusted');
      expect(fix?.fix).toContain('The certificate of smtp.office365.com is not trusted');
      expect(fix?.fix).toContain('upstream.caFile');
    },
  );

  it.each(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'])('a network error (%s) gives the reachability fix', (code) => {
    const fix = findFix({ text: 'Connection failed', errorCodes: [code] }, sage);
    expect(fix?.fix).toBe('Cannot reach smtp.office365.com:587: check DNS, the firewall (outbound TCP 587) and upstream.host / upstream.port in the configuration.');
  });

  it('reads codes kept in a cause or in nodemailer originalCode', () => {
    const error = Object.assign(new Error('Connection closed'), { code: 'ESOCKET', originalCode: 'CERT_HAS_EXPIRED' });
    expect(findFix(problemOf(new Error('probe failed', { cause: error })), sage)?.rule).toBe('certificate-untrusted');
  });

  it('marks a missing value instead of printing "undefined"', () => {
    const fix = findFix({ text: '535 5.7.139 x' });
    expect(fix?.fix).toContain('-Identity <mailbox>');
    expect(fix?.fix).not.toContain('undefined');
  });

  it('knows nothing about an unrelated error', () => {
    expect(findFix({ text: '250 2.0.0 OK' })).toBeUndefined();
  });

});
