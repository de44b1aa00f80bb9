import type { Command } from 'commander';

/** The `config` in `alga config get`: created by the first verb that needs it, shared by the rest. */
export function noun(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}
