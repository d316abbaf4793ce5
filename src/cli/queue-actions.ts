/**
 * What `queue list|show|retry|delete` do (queue-command.ts defines them), loaded only when one
 * runs (src/cli/main.ts).
 */
import { systemClock } from '../core/clock.js';
import { loadConfig } from '../core/config-load.js';
import { requestControl } from '../daemon/control-client.js';
import { controlEndpoint } from '../daemon/control-endpoint.js';
import type { ControlRequest } from '../daemon/control-protocol.js';
import { QueueCommands, type QueueEntry, type RetryEntry } from '../daemon/queue-commands.js';
import type { QueueOptions } from './queue-command.js';
import { formatQueueEntry, formatQueueTable } from './queue-format.js';

export async function queueList(options: QueueOptions): Promise<void> {
  const folder = options.failed === true ? 'failed' : 'queue';
  const entries = (await ask(options.config, { command: 'queue.list', folder })) as QueueEntry[];
  print(options, entries, () => formatQueueTable(entries, folder, Date.now()));
}

export async function queueShow(id: string, options: QueueOptions): Promise<void> {
  const entry = (await ask(options.config, { command: 'queue.show', id })) as QueueEntry & { emlPath: string };
  print(options, entry, () => formatQueueEntry(entry));
}

export async function queueRetry(id: string, options: QueueOptions): Promise<void> {
  const entry = (await ask(options.config, { command: 'queue.retry', id })) as RetryEntry;
  print(options, entry, () => `${id} will be tried ${Date.parse(entry.willGoAt) <= Date.now() ? 'now' : `at ${entry.willGoAt}`}${entry.waitingFor === undefined ? '' : ` (${entry.waitingFor})`}.\n`);
}

export async function queueDelete(id: string, options: QueueOptions): Promise<void> {
  const result = await ask(options.config, { command: 'queue.delete', id });
  print(options, result, () => `${id} deleted.\n`);
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
