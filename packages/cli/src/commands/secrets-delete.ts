import type { Command } from 'commander';
import { installVerb, resolveInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';
import { printJson } from '../output.ts';

export function register(program: Command): void {
  installVerb(program, 'secrets', 'delete <key>', "Delete one of the install's secrets (the guest reads it as missing)")
    .option('--json', 'print JSON')
    .action(async (key: string, opts: InstallTargetFlags & { json?: boolean }) => {
      const { extensionId, client } = await resolveInstallTarget(opts);
      const result = await client.deleteSecret(extensionId, key);
      if (opts.json) return printJson(result);
      console.log(`Deleted secret ${key} of ${extensionId} (secrets version ${result.secretsVersion})`);
    });
}
