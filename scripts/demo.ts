/**
 * `npm run demo`: the whole path on one machine with nothing but Node.
 *   1. starts the local mock tenant (Entra ID and Exchange Online stand-ins) on 127.0.0.1,
 *   2. starts the relay as a real process with config.example.json, as is,
 *   3. sends a message to it with a plain SMTP dialogue, as a legacy program would,
 *   4. prints what the mock Exchange received (and the token's checked claims) and the queue.
 * `npm run demo -- --graph` (or DEMO_UPSTREAM=graph) sends through the Microsoft Graph stand-in
 * instead (upstream "graph", docs/graph.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockTenant, type ReceivedMessage } from '../test/mock-tenant/index.js';
import { SmtpWire } from '../test/support/smtp-wire.js';
import { REPO_ROOT, RELAY_CLI, RelayProcess } from '../test/support/relay-process.js';

const say = (text: string): void => void process.stdout.write(`${text}\n`);
const step = (text: string): void => say(`\n\u001b[1m== ${text}\u001b[0m`);

step('1. Local mock tenant');
const viaGraph = process.argv.includes('--graph') || process.env.DEMO_UPSTREAM === 'graph';
const tenant = await startMockTenant({ dir: join(REPO_ROOT, '.mock-tenant'), idpPort: 2443, smtpPort: 2587, graph: viaGraph });
if (tenant.graph !== undefined) say(`Microsoft Graph stand-in ${tenant.graph.baseUrl} (HTTPS, tokens checked: aud graph.microsoft.com, Mail.Send)`);
say(`identity provider ${tenant.authorityHost} (HTTPS, CA ${tenant.caFile})`);
say(`Exchange Online stand-in ${tenant.upstream.host}:${tenant.upstream.port} (STARTTLS, AUTH XOAUTH2, tokens checked against the provider's keys)`);

step('2. The relay, with config.example.json as is');
const example = JSON.parse(await readFile(join(REPO_ROOT, 'config.example.json'), 'utf8')) as Record<string, unknown>;
const dir = await mkdtemp(join(tmpdir(), 'smtp-oauth-relay-demo-'));
const config = {
  ...example,
  // Absolute paths, because the config file is written to a scratch folder; everything else as is.
  $schema: undefined,
  dataDir: join(dir, 'data'),
  upstream: { ...(example.upstream as object), caFile: tenant.caFile },
  identity: { ...(example.identity as object), caFile: tenant.caFile },
  ...(tenant.graph === undefined
    ? {}
    : {
        accounts: (example.accounts as object[]).map((account) => ({ ...account, upstream: 'graph' })),
        graph: { baseUrl: tenant.graph.baseUrl, caFile: tenant.caFile },
      }),
};
const relay = await RelayProcess.start({ config, dir, env: { SMTP_OAUTH_RELAY_SECRET: tenant.clientSecret } });
say(`relay listening on 127.0.0.1:${relay.port}, data in ${join(dir, 'data')}`);

try {
  step('3. A legacy program sends a message (plain SMTP, no authentication)');
  const dialog = await SmtpWire.open(relay.port);
  const greeting = await dialog.reply();
  const server = (text: string): string => text.split('\n').map((line) => `S: ${line}`).join('\n');
  say(server(greeting.text));
  const message = [
    'From: Sage 100 <invoices@contoso.example>',
    'To: customer@fabrikam.example',
    'Subject: Invoice 10042',
    `Date: ${new Date().toUTCString()}`,
    'Message-ID: <demo-10042@contoso.example>',
    '',
    'Please find your invoice attached.',
    '.a line that starts with a dot (dot-stuffed on the wire, restored by both servers)',
    '',
  ].join('\r\n');
  for (const line of ['EHLO sage-server', 'MAIL FROM:<invoices@contoso.example>', 'RCPT TO:<customer@fabrikam.example>', 'DATA']) {
    const reply = await dialog.command(line);
    say(`C: ${line}\n${server(reply.text)}`);
  }
  const stuffed = message.replace(/^\./gm, '..');
  const accepted = await dialog.command(`${stuffed}.`);
  say(`C: <message, ${Buffer.byteLength(message)} bytes>\nC: .\n${server(accepted.text)}`);
  await dialog.command('QUIT');

  step('4. What Microsoft 365 (the mock) received');
  if (tenant.graph !== undefined) {
    await tenant.graph.waitForSent(1, 30_000);
    const [sent] = tenant.graph.sent;
    const claims = (sent?.claims ?? {}) as Record<string, unknown>;
    say(`Graph ${tenant.graph.requests.map((request) => `${request.method} ${request.operation} -> ${request.status}`).join(', ')}`);
    say(`sent as ${sent?.mailbox ?? '?'} (via ${sent?.via ?? '?'}) with a bearer token: aud=${String(claims.aud)} roles=${JSON.stringify(claims.roles)} (signature checked)`);
    say(`message arrived byte for byte: ${sent?.mime.equals(Buffer.from(message)) === true ? 'yes' : 'NO'}`);
  } else {
    const [received] = (await tenant.upstream.waitForMessages(1, 30_000)) as ReceivedMessage[];
    if (received === undefined) throw new Error('nothing arrived upstream');
    const claims = received.claims as Record<string, unknown>;
    say(`authenticated as ${received.mailbox} with a bearer token: aud=${String(claims.aud)} roles=${JSON.stringify(claims.roles)} (signature checked)`);
    say(`envelope: MAIL FROM:<${received.mailFrom}> RCPT TO:<${received.rcptTo.join('>, <')}>`);
    say(`message arrived byte for byte: ${received.raw.equals(Buffer.from(message)) ? 'yes' : 'NO'}`);
    say(received.raw.toString('utf8').replace(/\r\n/g, '\n').trimEnd().replace(/^/gm, '  | '));
  }

  await relay.waitForLog((line) => line.msg === 'message delivered');
  step('5. Queue state (smtp-oauth-relay queue list, through the control channel)');
  say(execFileSync(process.execPath, [RELAY_CLI, 'queue', 'list', '--config', relay.configFile], { encoding: 'utf8' }).trimEnd());
  say('\nThe relay logged, in JSON (also in data/logs/relay.log):');
  for (const line of relay.logs.filter((l) => ['message accepted', 'message delivered'].includes(l.msg))) say(`  ${JSON.stringify(line)}`);
} finally {
  await relay.kill('SIGTERM');
  await tenant.close();
  await rm(dir, { recursive: true, force: true });
}
say('\nDone: the relay accepted the message on localhost, stored it, and delivered it with OAuth.');
