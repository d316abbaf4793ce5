/** `config check` and `config schema`. */
import type { Command } from 'commander';
import { defaultConfigFile } from './default-config.js';
import { runCommand } from './run-command.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('Check the configuration or print its JSON Schema.');

  config
    .command('check')
    .description('Validate a configuration file; exits 78 and names the field when it is wrong.')
    .requiredOption('-c, --config <file>', 'configuration file', defaultConfigFile())
    .action((options: { config: string }) =>
      runCommand(async () => {
        // Loaded when the command runs, as every command's work is (src/cli/main.ts).
        const { loadConfig } = await import('../core/config-load.js');
        const { config: loaded, file } = loadConfig(options.config);
        const accounts = loaded.accounts.map((a) => `${a.name} <${a.mailbox}> (${a.auth.method})`).join(', ');
        process.stdout.write(
          `${file} is valid.\n  listens on ${loaded.listen.host}:${loaded.listen.port}\n  data in ${loaded.dataDir}\n` +
            `  upstream ${loaded.upstream.host}:${loaded.upstream.port}\n  accounts: ${accounts}\n`,
        );
      }),
    );

  config
    .command('schema')
    .description('Print the JSON Schema of the configuration file (what config.schema.json holds).')
    .action(() =>
      runCommand(async () => {
        const { configJsonSchema } = await import('../core/config.js');
        process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      }),
    );
}
