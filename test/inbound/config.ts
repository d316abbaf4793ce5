/** A validated configuration for the inbound tests, with the defaults of the real schema. */
import { configSchema, type Config } from '../../src/core/config.js';

export function testConfig(listen: Record<string, unknown> = {}): Config {
  const config = configSchema.parse({
    listen: { name: 'relay.test', ...listen },
    accounts: [
      {
        name: 'sage',
        mailbox: 'sage@contoso.com',
        sendAs: ['Invoices@Contoso.com', 'noreply@contoso.com'],
        auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecret: 's' },
      },
      {
        name: 'scanner',
        mailbox: 'scanner@contoso.com',
        auth: { method: 'client-credentials', tenantId: 't', clientId: 'c', clientSecret: 's' },
      },
    ],
  });
  // The schema wants a real port (1-65535); tests take an ephemeral one.
  return { ...config, listen: { ...config.listen, port: 0 } };
}
