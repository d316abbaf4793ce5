/** The Graph part of the configuration, as the Graph sender receives it (src/core/config.ts). */
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../core/config.js';

const appOnly = { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecretEnv: 'SECRET' };
const delegated = { method: 'delegated', clientId: 'c' };
const account = (auth: object, extra: object = {}) => ({ name: 'sage', mailbox: 'sage@contoso.com', auth, ...extra });
const issues = (input: object) => configSchema.safeParse(input).error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) ?? [];

describe('Graph configuration', () => {
  it('a Graph account asks for Graph scopes; SMTP stays the default with its own', () => {
    const config = configSchema.parse({
      accounts: [account(appOnly, { upstream: 'graph' }), account(delegated, { name: 'user', mailbox: 'u@contoso.com', upstream: 'graph' }), account(appOnly, { name: 'smtp', mailbox: 's@contoso.com' })],
    });
    expect(config.accounts[0]).toMatchObject({ upstream: 'graph', saveToSentItems: true, graphFallback: false, auth: { scope: 'https://graph.microsoft.com/.default' } });
    expect(config.accounts[1]?.auth).toMatchObject({ scopes: ['https://graph.microsoft.com/Mail.Send', 'offline_access'] });
    expect(config.accounts[2]).toMatchObject({ upstream: 'smtp', auth: { scope: 'https://outlook.office365.com/.default' } });
    expect(config.graph).toMatchObject({
      baseUrl: 'https://graph.microsoft.com/v1.0',
      appScope: 'https://graph.microsoft.com/.default',
      mimeMaxBytes: 3_000_000,
      uploadChunkBytes: 10 * 320 * 1024,
    });
  });

  it("takes the national cloud's Graph endpoint and scopes, and an override for tests", () => {
    const usgov = configSchema.parse({ cloud: 'usgov', accounts: [account(appOnly, { upstream: 'graph' })] });
    expect(usgov.graph.baseUrl).toBe('https://graph.microsoft.us/v1.0');
    expect(usgov.accounts[0]?.auth).toMatchObject({ scope: 'https://graph.microsoft.us/.default' });
    const china = configSchema.parse({ cloud: 'china', accounts: [account(delegated, { upstream: 'graph' })] });
    expect(china.accounts[0]?.auth).toMatchObject({ scopes: ['https://microsoftgraph.chinacloudapi.cn/Mail.Send', 'offline_access'] });
    expect(configSchema.parse({ graph: { baseUrl: 'https://127.0.0.1:8443/v1.0/' }, accounts: [account(appOnly)] }).graph.baseUrl).toBe('https://127.0.0.1:8443/v1.0');
  });

  it('names the field of a wrong Graph setting', () => {
    expect(issues({ graph: { uploadChunkBytes: 1_000_000 }, accounts: [account(appOnly)] })).toEqual(['graph.uploadChunkBytes: expected a multiple of 327680 (320 KiB)']);
    expect(issues({ graph: { mimeMaxBytes: 4_000_000 }, accounts: [account(appOnly)] })[0]).toMatch(/^graph\.mimeMaxBytes/);
    expect(issues({ graph: { baseUrl: 'http://graph.example' }, accounts: [account(appOnly)] })).toEqual(['graph.baseUrl: expected an https:// URL']);
    expect(issues({ accounts: [account(appOnly, { upstream: 'imap' })] })[0]).toMatch(/^accounts\.0\.upstream/);
    expect(issues({ accounts: [account(delegated, { graphFallback: true })] })[0]).toMatch(/^accounts\.0\.graphFallback: graphFallback needs app-only/);
  });

  it('a certificate replaces the secret; the key file needs the certificate', () => {
    const certificate = { method: 'client-credentials', tenantId: 't', clientId: 'c', certificateFile: 'app.crt.pem', privateKeyFile: 'app.key.pem' };
    expect(issues({ accounts: [account(certificate)] })).toEqual([]);
    expect(issues({ accounts: [account({ ...certificate, clientSecretEnv: 'SECRET' })] })).toEqual(['accounts.0.auth.certificateFile: give a client secret or a certificate, not both']);
    expect(issues({ accounts: [account({ ...appOnly, privateKeyFile: 'k.pem' })] })).toEqual(['accounts.0.auth.privateKeyFile: privateKeyFile needs certificateFile']);
  });
});
