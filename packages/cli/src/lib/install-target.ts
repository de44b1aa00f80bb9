import type { Command } from 'commander';
import type { ApiClient } from '../api/client.ts';
import { apiClient } from './credentials.ts';
import { noun, type Noun } from './noun.ts';
import { loadProject } from './project.ts';

/** The flags of a command that acts on one install: which extension, found how, on which server. */
export interface InstallTargetFlags {
  ext?: string;
  dir: string;
  server?: string;
}

/** Adds the flags of {@link InstallTargetFlags} to a command that acts on one install. */
export function withInstallTarget(command: Command): Command {
  return command
    .option('--ext <extensionId>', 'extension (default: the manifest in --dir)')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--server <url>', 'server URL');
}

/** `alga <noun> <verb>` for a verb that acts on one install (`alga config get`, `alga secrets set`), with its flags. */
export function installVerb(program: Command, name: Noun, verb: string, description: string): Command {
  return withInstallTarget(noun(program, name).command(verb).description(description));
}

/** The install the flags name (--ext, else the manifest in --dir) and a client for its server. */
export async function resolveInstallTarget(
  flags: InstallTargetFlags,
): Promise<{ extensionId: string; client: ApiClient }> {
  const extensionId = flags.ext || (await loadProject(flags.dir)).manifest.name;
  return { extensionId, client: await apiClient(flags) };
}
