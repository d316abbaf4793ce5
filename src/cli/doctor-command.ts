/**
 * `smtp-oauth-relay doctor [--account NAME] [--json]`: the checks a support engineer would run,
 * each PASS, WARN or FAIL with the next step. Exit 0 when nothing failed (warnings allowed), 1 otherwise.
 */
import type { Command } from 'commander';
import type { CheckResult } from '../daemon/doctor.js';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

interface DoctorOptions {
  config: string;
  account?: string;
  json?: boolean;
}

const LABEL: Record<CheckResult['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check the configuration, ports, key store, Microsoft 365 sign-in and SMTP AUTH; say what to fix. Sends no mail.')
    .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
    .option('--account <name>', 'check only this account')
    .option('--json', 'print the checks as JSON')
    .action((options: DoctorOptions) =>
      runCommand(async () => {
        // Loaded when the command runs, not by every start of the CLI (`serve` included): src/cli/main.ts.
        const { runDoctor } = await import('../daemon/doctor.js');
        const report = await runDoctor({
          configFile: options.config,
          ...(options.account === undefined ? {} : { account: options.account }),
          ...(options.json === true ? {} : { onCheck: (result: CheckResult) => process.stdout.write(formatCheck(result)) }),
        });
        if (options.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else process.stdout.write(report.ok ? '\nAll checks passed.\n' : '\nSome checks failed: see the fixes above.\n');
        return report.ok ? 0 : 1;
      }),
    );
}

export function formatCheck(result: CheckResult): string {
  const name = result.account === undefined ? result.check : `${result.check} [${result.account}]`;
  const line = `${LABEL[result.status]}  ${name.padEnd(22)} ${result.finding}\n`;
  return result.fix === undefined || result.status === 'pass' ? line : `${line}      fix: ${result.fix}\n`;
}
