/**
 * `service`'s subcommands are defined without loading src/service (src/cli/service-command.ts
 * takes them from its descriptions): they must stay the actions src/service knows, in its order.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerServiceCommand } from '../../src/cli/service-command.js';
import { SERVICE_ACTIONS } from '../../src/service/index.js';

describe('service command definitions', () => {
  it('has one subcommand per service action, in SERVICE_ACTIONS order', () => {
    const program = new Command('smtp-oauth-relay');
    registerServiceCommand(program);
    const service = program.commands.find((command) => command.name() === 'service');
    expect(service?.commands.map((command) => command.name())).toEqual([...SERVICE_ACTIONS]);
  });
});
