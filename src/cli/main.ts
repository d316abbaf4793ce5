#!/usr/bin/env node
/**
 * smtp-oauth-relay command line. Each command lives in its own file; this one only parses.
 * Exit codes follow sysexits.h where one fits: 78 for a wrong configuration.
 *
 * Only the definitions (names, options, help) are loaded at start: what a command does is
 * imported when it runs (serve-command.ts, the *-actions.ts files), so that `serve` does not
 * hold every other command's modules for as long as it runs (docs/performance.md, "Memory";
 * test/perf/startup-imports.test.ts).
 */
import { Command } from 'commander';
import { registerConfigCommands } from './config-command.js';
import { defaultConfigFile } from './default-config.js';
import { registerDoctorCommand } from './doctor-command.js';
import { runCommand } from './run-command.js';
import { registerLoginCommands } from './login-command.js';
import { registerQueueCommands } from './queue-command.js';
import { registerSecretCommands } from './secret-command.js';
import { registerSendTestCommand } from './send-test-command.js';
import { registerServiceCommand } from './service-command.js';
import { registerUserCommand } from './user-command.js';
import { registerStatusCommand } from './status-command.js';
import { packageVersion } from './version.js';

const program = new Command()
  .name('smtp-oauth-relay')
  .description('Accepts plain SMTP from legacy programs on localhost and relays it to Microsoft 365 with OAuth.')
  .version(packageVersion())
  .showHelpAfterError();

program
  .command('serve')
  .description('Run the relay in the foreground (as a service manager would).')
  .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
  .option('--stop-on-stdin-close', 'stop gracefully when stdin ends (the Windows service host uses it)')
  .action((options: { config: string; stopOnStdinClose?: boolean }) =>
    runCommand(async () => (await import('./serve-command.js')).serve(options.config, { stopOnStdinClose: options.stopOnStdinClose === true })),
  );

registerConfigCommands(program);
registerQueueCommands(program);
registerStatusCommand(program);
registerDoctorCommand(program);
registerSendTestCommand(program);
registerLoginCommands(program);
registerSecretCommands(program);
registerServiceCommand(program);
registerUserCommand(program);

// Not a top-level await: the Windows executable bundles this file as CommonJS, which has none
// (docs/windows-release.md). A rejection still ends the process with its stack and exit code 1.
void program.parseAsync();
