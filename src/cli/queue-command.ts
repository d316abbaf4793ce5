/**
 * `queue list|show|retry|delete`: asks the running daemon over its control channel, or works on
 * the spool folders directly when no daemon runs (as postqueue does with Postfix).
 */
import type { Command } from 'commander';
import { systemClock } from '../core/clock.js';
import { loadConfig } from '../core/config-load.js';
import { requestControl } from '../daemon/control-client.js';
import { controlEndpoint } from '../daemon/control-endpoint.js';
import type { ControlRequest } from '../daemon/control-protocol.js';
import { QueueCommands, type QueueEntry, type RetryEntry } from '../daemon/queue-commands.js';
import { defaultConfigFile } from './default-config.js';
import { formatQueueEntry, formatQueueTable } from './queue-format.js';
import { runCommand } from './run-command.js';

interface QueueOptions {
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
    .action((options: QueueOptions) =>
      runCommand(async () => {
        const folder = options.failed === true ? 'failed' : 'queue';
        const entries = (await ask(options.config, { command: 'queue.list', folder })) as QueueEntry[];
        print(options, entries, () => formatQueueTable(entries, folder, Date.now()));
      }),
    );

  withConfig(queue.command('show').argument('<id>').description('Show one message: envelope, recipients, attempts, last reply.')).action(
    (id: string, options: QueueOptions) =>
      runCommand(async () => {
        const entry = (await ask(options.config, { command: 'queue.show', id })) as QueueEntry & { emlPath: string };
        print(options, entry, () => formatQueueEntry(entry));
      }),
  );

  withConfig(queue.command('retry').argument('<id>').description('Try a queued message now, or put a failed one back in the queue.')).action(
    (id: string, options: QueueOptions) =>
      runCommand(async () => {
        const entry = (await ask(options.config, { command: 'queue.retry', id })) as RetryEntry;
        print(options, entry, () => `${id} will be tried ${Date.parse(entry.willGoAt) <= Date.now() ? 'now' : `at ${entry.willGoAt}`}${entry.waitingFor === undefined ? '' : ` (${entry.waitingFor})`}.\n`);
      }),
  );

  withConfig(queue.command('delete').argument('<id>').description('Remove a message from the queue or from failed/ for good.')).action(
    (id: string, options: QueueOptions) =>
      runCommand(async () => {
        const result = await ask(options.config, { command: 'queue.delete', id });
        print(options, result, () => `${id} deleted.\n`);
      }),
  );
}

async function ask(configFile: string, request: ControlRequest): Promise<unknown> {
  const { config } = loadConfig(configFile);
  const response = await requestControl(controlEndpoint(config.dataDir), request);
  if (response === undefined) return new QueueCommands(config.dataDir, undefined, systemClock).handle(request);
  if (!response.ok) throw new Error(response.error);
  return response.result;
}

function print(options: QueueOptions, value: unknown, text: () => string): void {
  process.stdout.write(options.json === true ? `${JSON.stringify(value, null, 2)}\n` : text());
}
