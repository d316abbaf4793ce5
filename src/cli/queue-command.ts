/**
 * `queue list|show|retry|delete`: asks the running daemon over its control channel, or works on
 * the spool folders directly when no daemon runs (as postqueue does with Postfix).
 */
import type { Command } from 'commander';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

export interface QueueOptions {
  config: string;
  json?: boolean;
  failed?: boolean;
}

export function registerQueueCommands(program: Command): void {
  const queue = program.command('queue').description('Inspect and manage queued and failed messages.');
  const withConfig = (command: Command): Command =>
    command
      .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
      .option('--json', 'print JSON instead of text');

  withConfig(queue.command('list').description('List waiting messages (or failed ones with --failed).'))
    .option('--failed', 'list spool/failed instead of the queue')
    .action((options: QueueOptions) => runCommand(async () => (await import('./queue-actions.js')).queueList(options)));

  withConfig(queue.command('show').argument('<id>').description('Show one message: envelope, recipients, attempts, last reply.')).action((id: string, options: QueueOptions) =>
    runCommand(async () => (await import('./queue-actions.js')).queueShow(id, options)),
  );

  withConfig(queue.command('retry').argument('<id>').description('Try a queued message now, or put a failed one back in the queue.')).action((id: string, options: QueueOptions) =>
    runCommand(async () => (await import('./queue-actions.js')).queueRetry(id, options)),
  );

  withConfig(queue.command('delete').argument('<id>').description('Remove a message from the queue or from failed/ for good.')).action((id: string, options: QueueOptions) =>
    runCommand(async () => (await import('./queue-actions.js')).queueDelete(id, options)),
  );
}
