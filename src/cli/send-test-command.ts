/**
 * `smtp-oauth-relay send-test --to ADDRESS [--from ADDRESS]`: one small message through the
 * RUNNING relay, as a legacy program would send it (plain SMTP on listen.host:port), then its
 * fate followed over the control channel: delivered (gone from the queue), failed (in failed/,
 * with Exchange's reply and the fix), or still queued when the time is up. Exit 0 only when delivered.
 */
import type { Command } from 'commander';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

export interface SendTestOptions {
  config: string;
  to: string;
  from?: string;
  timeout: string;
}

export function registerSendTestCommand(program: Command): void {
  program
    .command('send-test')
    .description('Send one test message through the running relay and report its queue id and outcome.')
    .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
    .requiredOption('--to <address>', 'recipient of the test message')
    .option('--from <address>', "sender (default: the first account's mailbox)")
    .option('--timeout <seconds>', 'how long to wait for the outcome', '60')
    .action((options: SendTestOptions) => runCommand(async () => (await import('./send-test-actions.js')).sendTest(options)));
}
