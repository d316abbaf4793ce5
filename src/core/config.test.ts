import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, configSchema } from './config.js';

const appOnly = { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecretEnv: 'SECRET' };
const delegated = { method: 'delegated', clientId: 'c' };
const account = (auth: object) => ({ name: 'sage', mailbox: 'sage@contoso.com', auth });

describe('configSchema', () => {
  it("fills the global cloud's hosts and scopes when the file leaves them out", () => {
    const config = configSchema.parse({ accounts: [account(appOnly), { ...account(delegated), name: 'user', mailbox: 'u@contoso.com' }] });
    expect(config.identity.authorityHost).toBe('https://login.microsoftonline.com');
    expect(config.upstream.host).toBe('smtp.office365.com');
    expect(config.accounts[0]?.auth).toMatchObject({ scope: 'https://outlook.office365.com/.default' });
    expect(config.accounts[1]?.auth).toMatchObject({
      scopes: ['https://outlook.office.com/SMTP.Send', 'offline_access'],
      tenantId: 'organizations',
      keepAliveHours: 24,
    });
  });

  it('sets every endpoint and scope of a national cloud in one word, each still overridable', () => {
    const usgov = configSchema.parse({ cloud: 'usgov', accounts: [account(delegated)] });
    expect(usgov.identity.authorityHost).toBe('https://login.microsoftonline.us');
    expect(usgov.upstream.host).toBe('smtp.office365.us');
    expect(usgov.accounts[0]?.auth).toMatchObject({ scopes: ['https://outlook.office365.us/SMTP.Send', 'offline_access'] });

    const china = configSchema.parse({ cloud: 'china', upstream: { host: 'smtp.example.cn' }, accounts: [account(appOnly)] });
    expect(china.identity.authorityHost).toBe('https://login.chinacloudapi.cn');
    expect(china.upstream.host).toBe('smtp.example.cn');
    expect(china.accounts[0]?.auth).toMatchObject({ scope: 'https://partner.outlook.cn/.default' });
  });

  it('refuses an unknown cloud, a secret given twice, and a misspelt field', () => {
    const issues = (input: object) => configSchema.safeParse(input).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(issues({ cloud: 'mars', accounts: [account(appOnly)] })).toEqual(['cloud']);
    expect(issues({ accounts: [account({ ...appOnly, clientSecret: 's' })] })).toEqual(['accounts.0.auth.clientSecretEnv']);
    expect(issues({ accounts: [account({ ...delegated, keepAliveHour: 1 })] })).toEqual(['accounts.0.auth']);
  });

  it('lets an app-only account omit its secret (it may be sealed in the secret store)', () => {
    expect(configSchema.safeParse({ accounts: [account({ method: 'client-credentials', tenantId: 't', clientId: 'c' })] }).success).toBe(true);
  });

  it('keeps config.schema.json in the repository equal to the schema generated from the definition', () => {
    const committed = JSON.parse(readFileSync(new URL('../../config.schema.json', import.meta.url), 'utf8')) as unknown;
    // If this fails: npm run schema
    expect(committed).toEqual(configJsonSchema());
  });

  it('accepts config.example.json as it is', () => {
    const example = JSON.parse(readFileSync(new URL('../../config.example.json', import.meta.url), 'utf8')) as unknown;
    expect(configSchema.safeParse(example).success).toBe(true);
  });
});
