import type { Command } from 'commander';

/** Each noun's help line, written once for all its verbs. */
const NOUNS = {
  new: 'Create a new extension from a template',
  config: "Read and change an install's configuration",
  secrets: "Set and list an install's secrets (values are never shown)",
  egress: 'Grant an install outbound hosts beyond its manifest (deny by default)',
} as const;

export type Noun = keyof typeof NOUNS;

/** The `config` in `alga config get`: created by the first verb that needs it, shared by the rest. */
export function noun(program: Command, name: Noun): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(NOUNS[name]);
}
