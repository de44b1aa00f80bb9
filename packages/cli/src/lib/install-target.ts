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

/** `alga <noun> <verb>` for a verb that acts on one install (`alga config get`, `alga secrets set`), with its flags. */
export function installVerb(program: Command, name: Noun, verb: string, description: string): Command {
  return noun(program, name)
    .command(verb)
    .description(description)
    .option('--ext <extensionId>', 'extension (default: the manifest in --dir)')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--server <url>', 'server URL');
}

/** The install the flags name (--ext, else the manifest in --dir) and a client for its server. */
export async function resolveInstallTarget(
  flags: InstallTargetFlags,
): Promise<{ extensionId: string; client: ApiClient }> {
  const extensionId = flags.ext || (await loadProject(flags.dir)).manifest.name;
  return { extensionId, client: await apiClient(flags) };
}
