/** `config check` and `config schema`. */
import type { Command } from 'commander';
import { configJsonSchema } from '../core/config.js';
import { loadConfig } from '../core/config-load.js';
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
    .action(() => runCommand(async () => void process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`)));
}
