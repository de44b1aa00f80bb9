import type { Command } from 'commander';
import { apiClient } from '../lib/credentials.ts';
import { CliError } from '../lib/errors.ts';
import { readSecretValue } from '../lib/input.ts';
import { noun } from '../lib/noun.ts';
import { extensionIdFrom } from '../lib/project.ts';

export function register(program: Command): void {
  noun(program, 'secrets', "Set and list an install's secrets (values are never shown)")
    .command('set <key> [value...]')
    .description('Set a secret from stdin or a hidden prompt: printf %s "$TOKEN" | alga secrets set api_token')
    .option('--ext <extensionId>', 'extension (default: the manifest in --dir)')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--server <url>', 'server URL')
    .action(async (key: string, value: string[], opts: { ext?: string; dir: string; server?: string }) => {
      if (value.length > 0) {
        // The value is already in shell history and `ps` by now; say so, and do not use it.
        throw new CliError(
          `Refusing a secret value on the command line (it would stay in shell history and be visible in ps); pipe it instead: printf %s "$VALUE" | alga secrets set ${key}`,
        );
      }
      const extensionId = await extensionIdFrom(opts);
      const client = await apiClient(opts);
      const secret = await readSecretValue(key);
      const result = (await client.setSecret(extensionId, key, secret)) as { version?: number };
      console.log(`Set secret ${key} for ${extensionId}${result.version ? ` (version ${result.version})` : ''}`);
    });
}
