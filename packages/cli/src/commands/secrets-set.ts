import type { Command } from 'commander';
import { CliError } from '../lib/errors.ts';
import { readSecretValue } from '../lib/input.ts';
import { installVerb, resolveInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `30d`, `12h`, `90m`, `2w` → milliseconds; anything else is a usage error naming the forms. */
export function parseDuration(text: string): number {
  const match = /^([1-9][0-9]{0,5})([mhdw])$/.exec(text.trim());
  if (!match)
    throw new CliError(`--expires-in takes a number and a unit (m, h, d, w), e.g. 30d or 12h; got "${text}".`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

export function register(program: Command): void {
  installVerb(
    program,
    'secrets',
    'set <key> [value...]',
    'Set a secret from stdin or a hidden prompt: printf %s "$TOKEN" | alga secrets set api_token',
  )
    .option('--expires-in <duration>', 'the secret stops being readable after this long (30d, 12h, 90m, 2w)')
    .action(async (key: string, value: string[], opts: InstallTargetFlags & { expiresIn?: string }) => {
      if (value.length > 0) {
        // The value is already in shell history and `ps` by now; say so, and do not use it.
        throw new CliError(
          `Refusing a secret value on the command line (it would stay in shell history and be visible in ps); pipe it instead: printf %s "$VALUE" | alga secrets set ${key}`,
        );
      }
      // Checked before the value is read, so a typo costs no retyping.
      const expiresAt = opts.expiresIn ? new Date(Date.now() + parseDuration(opts.expiresIn)).toISOString() : undefined;
      const { extensionId, client } = await resolveInstallTarget(opts);
      const secret = await readSecretValue(key);
      const result = (await client.setSecret(extensionId, key, secret, expiresAt)) as { version?: number };
      console.log(
        `Set secret ${key} for ${extensionId}${result.version ? ` (version ${result.version})` : ''}` +
          (expiresAt ? `, expires ${expiresAt}` : ''),
      );
    });
}
