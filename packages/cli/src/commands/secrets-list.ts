import type { Command } from 'commander';
import { installVerb, resolveInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';
import { printJson } from '../output.ts';

export function register(program: Command): void {
  installVerb(program, 'secrets', 'list', "List the install's secrets: names, whether set, versions — never values")
    .option('--json', 'print JSON')
    .action(async (opts: InstallTargetFlags & { json?: boolean }) => {
      const { extensionId, client } = await resolveInstallTarget(opts);
      const { secrets } = await client.listSecrets(extensionId);
      // Only metadata crosses here: the server has no way to return a value.
      const rows = secrets.map((s) => ({
        key: s.key,
        set: s.set,
        version: s.version,
        updatedAt: s.updatedAt ?? null,
        expiresAt: s.expiresAt ?? null,
      }));
      if (opts.json) return printJson(rows);
      if (rows.length === 0) return console.log(`${extensionId} declares no secrets.`);
      for (const row of rows) {
        const expiry = !row.expiresAt
          ? ''
          : Date.parse(row.expiresAt) <= Date.now()
            ? `, EXPIRED ${row.expiresAt}`
            : `, expires ${row.expiresAt}`;
        console.log(`${row.key.padEnd(24)} ${row.set ? `set (version ${row.version}${expiry})` : 'NOT SET'}`);
      }
    });
}
