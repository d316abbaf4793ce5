/**
 * What `send-test` does (send-test-command.ts defines it), loaded only when it runs
 * (src/cli/main.ts): submit one message to the running relay, then follow its fate.
 */
import nodemailer from 'nodemailer';
import { loadConfig } from '../core/config-load.js';
import type { Config } from '../core/config.js';
import type { QueueRecord } from '../core/queue-record.js';
import { requestControl } from '../daemon/control-client.js';
import { controlEndpoint } from '../daemon/control-endpoint.js';
import { findFix } from '../health/fixes.js';
import type { SendTestOptions } from './send-test-command.js';

type Entry = QueueRecord & { folder: 'queue' | 'failed' };

const POLL_MS = 500;

export async function sendTest(options: SendTestOptions): Promise<number> {
  const { config } = loadConfig(options.config);
  const endpoint = controlEndpoint(config.dataDir);
  const status = await requestControl(endpoint, { command: 'status' }, { timeoutMs: 5_000 });
  if (status === undefined) {
    throw new Error(`The relay is not running (nothing answers on ${endpoint}): start it with "smtp-oauth-relay serve --config ${options.config}", then try again`);
  }
  const smtp = listeningAddress(status.ok ? status.result : undefined, config);
  const from = options.from ?? config.accounts[0]?.mailbox ?? '';
  const id = await submit(smtp, from, options.to);
  process.stdout.write(`Accepted by the relay at ${smtp.host}:${smtp.port}: queued as ${id} (from ${from} to ${options.to})\n`);

  const deadline = Date.now() + Number(options.timeout) * 1000;
  let last: Entry | undefined;
  while (Date.now() < deadline) {
    const response = await requestControl(endpoint, { command: 'queue.show', id });
    if (response === undefined) throw new Error('The relay stopped while the test message waited');
    if (!response.ok) {
      // Gone from the queue and not in failed/: Exchange took it.
      if (/^No message/.test(response.error)) {
        process.stdout.write(`Delivered: ${id} was accepted by ${config.upstream.host}.\n`);
        return 0;
      }
      throw new Error(response.error);
    }
    last = response.result as Entry;
    if (last.folder === 'failed') return reportFailed(config, last);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const reply = last?.lastReply?.text ?? 'no attempt yet';
  process.stdout.write(`Still queued after ${options.timeout} s: ${id}, last reply: ${reply}\n`);
  const fix = last?.lastReply === undefined ? undefined : findFix({ text: replyLine(last.lastReply) }, fixContext(config, last.account));
  if (fix !== undefined) process.stdout.write(`  ${fix.meaning}\n  fix: ${fix.fix}\n`);
  return 1;
}

/** The daemon knows where it really listens (listen.port 0 picks a free port). */
function listeningAddress(status: unknown, config: Config): { host: string; port: number } {
  const smtp = (status as { smtp?: { host?: unknown; port?: unknown } } | undefined)?.smtp;
  if (typeof smtp?.host === 'string' && typeof smtp.port === 'number') return { host: smtp.host, port: smtp.port };
  return { host: config.listen.host, port: config.listen.port };
}

async function submit(smtp: { host: string; port: number }, from: string, to: string): Promise<string> {
  // Plain SMTP on loopback, exactly what a legacy program speaks to the relay.
  const transport = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true, logger: false });
  try {
    const info = await transport.sendMail({
      from,
      to,
      subject: 'smtp-oauth-relay test message',
      text: `smtp-oauth-relay test message, sent ${new Date().toISOString()} with "smtp-oauth-relay send-test".\n`,
    });
    const id = /queued as (\S+)/.exec(info.response)?.[1];
    if (id === undefined) throw new Error(`The relay accepted the message but named no queue id: "${info.response}"`);
    return id;
  } catch (error) {
    const response = (error as { response?: string }).response;
    throw new Error(`The relay refused the test message: ${response ?? (error as Error).message}`);
  } finally {
    transport.close();
  }
}

function reportFailed(config: Config, entry: Entry): number {
  const replies = entry.recipients.filter((r) => r.status === 'failed' && r.lastReply !== undefined).map((r) => ({ address: r.address, reply: r.lastReply! }));
  const reply = replies[0]?.reply ?? entry.lastReply;
  const text = reply === undefined ? 'no reply recorded' : replyLine(reply);
  process.stdout.write(`Failed: ${entry.id} is in spool/failed: ${text}\n`);
  const fix = findFix({ text }, fixContext(config, entry.account));
  if (fix !== undefined) process.stdout.write(`  ${fix.meaning}\n  fix: ${fix.fix}\n`);
  return 1;
}

function replyLine(reply: { code?: number | undefined; text: string }): string {
  return reply.code === undefined || reply.text.startsWith(String(reply.code)) ? reply.text : `${reply.code} ${reply.text}`;
}

function fixContext(config: Config, accountName: string) {
  const account = config.accounts.find((a) => a.name === accountName);
  return {
    account: accountName,
    host: config.upstream.host,
    port: config.upstream.port,
    ...(account === undefined ? {} : { mailbox: account.mailbox, method: account.auth.method, clientId: account.auth.clientId, tenantId: account.auth.tenantId }),
  };
}
