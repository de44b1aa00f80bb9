import type { Command } from 'commander';
import { apiClient } from '../lib/credentials.ts';
import { CliError } from '../lib/errors.ts';
import { noun } from '../lib/noun.ts';
import { extensionIdFrom } from '../lib/project.ts';
import { printJson } from '../output.ts';

export function register(program: Command): void {
  noun(program, 'config', "Read and change an install's configuration")
    .command('get [key]')
    .description("Print the install's config, or one key of it")
    .option('--ext <extensionId>', 'extension (default: the manifest in --dir)')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--server <url>', 'server URL')
    .option('--json', 'print JSON')
    .action(async (key: string | undefined, opts: { ext?: string; dir: string; server?: string; json?: boolean }) => {
      const extensionId = await extensionIdFrom(opts);
      const view = await (await apiClient(opts)).getInstall(extensionId);
      const config = view.config ?? {};
      if (key !== undefined) {
        if (!Object.hasOwn(config, key)) {
          throw new CliError(
            `"${key}" is not set for ${extensionId}; known keys: ${Object.keys(config).join(', ') || '(none)'}`,
          );
        }
        return opts.json
          ? printJson(config[key])
          : console.log(typeof config[key] === 'string' ? config[key] : JSON.stringify(config[key]));
      }
      if (opts.json) return printJson(config);
      for (const [k, v] of Object.entries(config)) console.log(`${k}=${JSON.stringify(v)}`);
    });
}
