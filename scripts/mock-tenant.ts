/**
 * Runs the local mock Microsoft 365 tenant on fixed ports until Ctrl-C, for the demo and for
 * trying the relay by hand:
 *   identity provider  https://127.0.0.1:2443/<tenant>/...   (Entra ID stand-in)
 *   SMTP submission    127.0.0.1:2587, STARTTLS + XOAUTH2     (Exchange Online stand-in)
 * The test CA is written to .mock-tenant/ca.pem in the repository root (new on every start).
 *
 * Usage: npm run mock-tenant [-- --idp-port 2443 --smtp-port 2587]
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startMockTenant, MOCK_MAILBOX, MOCK_SEND_AS, type ReceivedMessage } from '../test/mock-tenant/index.js';

const DEFAULT_IDP_PORT = 2443;
const DEFAULT_SMTP_PORT = 2587;

const { values } = parseArgs({
  options: {
    'idp-port': { type: 'string', default: String(DEFAULT_IDP_PORT) },
    'smtp-port': { type: 'string', default: String(DEFAULT_SMTP_PORT) },
  },
});

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tenant = await startMockTenant({
  dir: join(repoRoot, '.mock-tenant'),
  idpPort: Number(values['idp-port']),
  smtpPort: Number(values['smtp-port']),
});

console.log(`mock tenant running
  identity provider  ${tenant.authorityHost}  (tenant ${tenant.tenantId})
  SMTP submission    ${tenant.upstream.host}:${tenant.upstream.port}  (STARTTLS, AUTH XOAUTH2)
  CA certificate     ${tenant.caFile}
  app registration   clientId ${tenant.clientId}, clientSecret ${tenant.clientSecret} (mock values)
  public client      clientId ${tenant.publicClientId} (delegated sign-in: login --device-code or --no-browser)
  mailbox            ${MOCK_MAILBOX} (may send as ${MOCK_SEND_AS})

Run the relay against it with the example configuration, as is:
  npm run build && SMTP_OAUTH_RELAY_SECRET=${tenant.clientSecret} node dist/cli/main.js serve --config config.example.json
Press Ctrl-C to stop.`);

tenant.upstream.on('message', (message: ReceivedMessage) => {
  const subject = /^Subject: (.*)$/im.exec(message.raw.toString('utf8'))?.[1] ?? '(no subject)';
  console.log(
    `${new Date(message.receivedAt).toISOString()}  ${message.mailbox}  from ${message.mailFrom} to ${message.rcptTo.join(', ')}  ${message.raw.length} bytes  "${subject}"`,
  );
});

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log('stopping mock tenant');
  await tenant.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
