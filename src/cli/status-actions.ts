/**
 * What `status` does (status-command.ts defines it), loaded only when it runs (src/cli/main.ts).
 */
import { loadConfig } from '../core/config-load.js';
import type { Config } from '../core/config.js';
import { collectStatus } from '../daemon/status-collector.js';
import { buildStatusReport, statusJsonSchema, type StatusReport } from '../health/status-report.js';
import { formatStatusText } from '../health/status-text.js';
import type { StatusOptions } from './status-command.js';

export async function status(options: StatusOptions): Promise<number> {
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
