import type { Command } from 'commander';
import { apiClient } from '../lib/credentials.ts';
import { noun } from '../lib/noun.ts';
import { extensionIdFrom } from '../lib/project.ts';
import { printJson } from '../output.ts';

export function register(program: Command): void {
  noun(program, 'secrets', "Set and list an install's secrets (values are never shown)")
    .command('list')
    .description("List the install's secrets: names, whether set, versions — never values")
    .option('--ext <extensionId>', 'extension (default: the manifest in --dir)')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--server <url>', 'server URL')
    .option('--json', 'print JSON')
    .action(async (opts: { ext?: string; dir: string; server?: string; json?: boolean }) => {
      const extensionId = await extensionIdFrom(opts);
      const { secrets } = await (await apiClient(opts)).listSecrets(extensionId);
      // Only metadata crosses here: the server has no way to return a value.
      const rows = secrets.map((s) => ({ key: s.key, set: s.set, version: s.version, updatedAt: s.updatedAt ?? null }));
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return console.log(`${extensionId} declares no secrets.`);
      for (const row of rows) {
        console.log(`${row.key.padEnd(24)} ${row.set ? `set (version ${row.version})` : 'NOT SET'}`);
      }
    });
}
