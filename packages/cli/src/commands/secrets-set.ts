import type { Command } from 'commander';
import { CliError } from '../lib/errors.ts';
import { readSecretValue } from '../lib/input.ts';
import { installVerb, resolveInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';

export function register(program: Command): void {
  installVerb(
    program,
    'secrets',
    'set <key> [value...]',
    'Set a secret from stdin or a hidden prompt: printf %s "$TOKEN" | alga secrets set api_token',
  ).action(async (key: string, value: string[], opts: InstallTargetFlags) => {
    if (value.length > 0) {
      // The value is already in shell history and `ps` by now; say so, and do not use it.
      throw new CliError(
        `Refusing a secret value on the command line (it would stay in shell history and be visible in ps); pipe it instead: printf %s "$VALUE" | alga secrets set ${key}`,
      );
    }
    const { extensionId, client } = await resolveInstallTarget(opts);
    const secret = await readSecretValue(key);
    const result = (await client.setSecret(extensionId, key, secret)) as { version?: number };
    console.log(`Set secret ${key} for ${extensionId}${result.version ? ` (version ${result.version})` : ''}`);
  });
}
