import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CAPABILITIES } from '@alga-psa/protocol';
import { apiClient } from '../lib/credentials.ts';
import { CliError } from '../lib/errors.ts';
import { confirm } from '../lib/input.ts';
import { loadProject } from '../lib/project.ts';
import { printJson } from '../output.ts';

/** What each capability lets the extension do, in the words a tenant admin needs. */
const MEANING: Record<string, string> = {
  'cap:context.read': 'read its request context and install config',
  'cap:secrets.get': 'read the secrets you set for it (inside the runner only)',
  'cap:http.fetch': 'call the hosts its manifest lists in allowedHosts',
  'cap:storage.kv': 'keep data in its own key-value storage',
  'cap:log.emit': 'write log lines',
  'cap:ui.proxy': 'call host routes on behalf of its UI',
  'cap:user.read': 'see who the signed-in user is',
};

export function register(program: Command): void {
  program
    .command('install [extensionId]')
    .description('Install (or upgrade) an extension for your tenant, granting its capabilities')
    .option('-C, --dir <dir>', 'extension folder whose manifest names the extension', '.')
    .option('--version <version>', 'version to install (default: the latest)')
    .option('--grant <caps>', 'comma-separated capabilities to grant (default: what the manifest declares)')
    .option('-y, --yes', 'grant without asking (for scripts)')
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)')
    .option('--json', 'print the install as JSON')
    .action(
      async (
        extensionArg: string | undefined,
        opts: { dir: string; version?: string; grant?: string; yes?: boolean; server?: string; json?: boolean },
      ) => {
        const client = await apiClient(opts);
        const local = existsSync(path.join(opts.dir, 'manifest.json'))
          ? (await loadProject(opts.dir)).manifest
          : undefined;
        const extensionId = extensionArg ?? local?.name;
        if (!extensionId)
          throw new CliError('Which extension? Run inside its folder or pass its id: alga install <extensionId>');
        const declared = local?.name === extensionId ? local.capabilities : undefined;
        const grant = opts.grant
          ? opts.grant
              .split(',')
              .map((c) => c.trim())
              .filter(Boolean)
          : declared;
        const shown = [...new Set([...(grant ?? []), ...DEFAULT_CAPABILITIES])].sort();
        if (!opts.yes) {
          if (!process.stdin.isTTY) {
            throw new CliError('Installing grants capabilities; confirm on a terminal, or pass --yes in scripts.');
          }
          console.error(`${extensionId} will be allowed to:`);
          for (const cap of shown) console.error(`  ${cap.padEnd(18)} ${MEANING[cap] ?? ''}`);
          if (!(await confirm('Grant these and install?'))) throw new CliError('Not installed: consent was not given.');
        }
        const view = await client.install({
          extensionId,
          ...(opts.version ? { version: opts.version } : {}),
          ...(grant ? { grant } : {}),
        });
        if (opts.json) return printJson(view);
        console.log(`Installed ${view.install.extensionId}@${view.install.version}`);
        if (view.install.grantedCapabilities) console.log(`  granted: ${view.install.grantedCapabilities.join(', ')}`);
        for (const key of view.missingSecrets ?? []) {
          console.log(`  secret "${key}" is not set yet: alga secrets set ${key}`);
        }
      },
    );
}
