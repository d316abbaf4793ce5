/**
 * `status [--json]`: will mail keep flowing, and if not, what to do. The exit code is the
 * report's (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: the Nagios convention that PRTG, Zabbix and
 * RMM agents read), so a configuration that cannot be read is UNKNOWN (3), not 78: a monitoring
 * check must not mistake "cannot tell" for a broken relay.
 */
import type { Command } from 'commander';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

export interface StatusOptions {
  config?: string;
  json?: boolean;
  schema?: boolean;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Show whether mail flows: daemon, accounts, sign-in expiry, queue. Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.')
    .option('-c, --config <file>', 'configuration file', defaultConfigFile())
    .option('--json', 'print the report as JSON (schema: status.schema.json)')
    .option('--schema', 'print the JSON Schema of the --json report (what status.schema.json holds)')
    .action((options: StatusOptions) => runCommand(async () => (await import('./status-actions.js')).status(options)));
}
