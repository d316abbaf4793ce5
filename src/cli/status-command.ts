/**
 * `status [--json]`: will mail keep flowing, and if not, what to do. The exit code is the
 * report's (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: the Nagios convention that PRTG, Zabbix and
 * RMM agents read), so a configuration that cannot be read is UNKNOWN (3), not 78: a monitoring
 * check must not mistake "cannot tell" for a broken relay.
 */
import type { Command } from 'commander';
import { loadConfig } from '../core/config-load.js';
import type { Config } from '../core/config.js';
import { collectStatus } from '../daemon/status-collector.js';
import { buildStatusReport, statusJsonSchema, type StatusReport } from '../health/status-report.js';
import { formatStatusText } from '../health/status-text.js';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

interface StatusOptions {
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
    .action((options: StatusOptions) => runCommand(() => status(options)));
}

async function status(options: StatusOptions): Promise<number> {
  if (options.schema === true) {
    process.stdout.write(`${JSON.stringify(statusJsonSchema(), null, 2)}\n`);
    return 0;
  }
  const report = await reportFor(options.config);
  process.stdout.write(options.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatStatusText(report));
  return report.exitCode;
}

async function reportFor(configFile: string | undefined): Promise<StatusReport> {
  let config: Config;
  let file: string;
  try {
    if (configFile === undefined) throw new Error('no configuration file given (--config FILE or SMTP_OAUTH_RELAY_CONFIG)');
    ({ config, file } = loadConfig(configFile));
  } catch (error) {
    return cannotTell(`the configuration cannot be read: ${(error as Error).message}`);
  }
  try {
    return await collectStatus(config, { configFile: file });
  } catch (error) {
    return cannotTell((error as Error).message);
  }
}

function cannotTell(reason: string): StatusReport {
  return buildStatusReport({ now: Date.now(), config: { accounts: [], alerts: { thresholdsDays: [] } }, diskError: reason });
}
