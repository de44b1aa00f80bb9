import type { Command } from 'commander';
import { CliError } from '../lib/errors.ts';
import { installVerb, resolveInstallTarget, type InstallTargetFlags } from '../lib/install-target.ts';
import { printJson } from '../output.ts';

export function register(program: Command): void {
  installVerb(program, 'config', 'get [key]', "Print the install's config, or one key of it")
    .option('--json', 'print JSON')
    .action(async (key: string | undefined, opts: InstallTargetFlags & { json?: boolean }) => {
      const { extensionId, client } = await resolveInstallTarget(opts);
      const view = await client.getInstall(extensionId);
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
