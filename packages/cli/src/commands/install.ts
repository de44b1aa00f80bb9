import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { consentText, grantedWith, isCapability, type Consent } from '@alga-psa/protocol';
import type { ApiClient, InstallView } from '../api/client.ts';
import { apiClient } from '../lib/credentials.ts';
import { CliError } from '../lib/errors.ts';
import { confirm } from '../lib/input.ts';
import { loadProject } from '../lib/project.ts';
import { printJson } from '../output.ts';

/**
 * The consent prompt's lines: every capability the install ends up with (the
 * defaults included), each with the sentence the web UI shows for it too.
 */
export function consentLines(
  extensionId: string,
  grant: readonly string[],
  consent?: Pick<Consent, 'notRequested' | 'acceptsAnyPath' | 'allowedHosts'> & Partial<Pick<Consent, 'secretEgress'>>,
): string[] {
  const lines = [
    `${extensionId} will be allowed to:`,
    // An unknown id gets no sentence; the server refuses it with its own message.
    ...grantedWith(grant).map((cap) => `  ${cap.padEnd(18)} ${isCapability(cap) ? consentText(cap) : ''}`),
  ];
  if (consent && consent.allowedHosts.length > 0) lines.push(`Outbound hosts: ${consent.allowedHosts.join(', ')}`);
  // A server from before secret handles sends no `secretEgress`.
  for (const [key, hosts] of Object.entries(consent?.secretEgress ?? {}))
    lines.push(`Secret ${key} is only ever sent to: ${hosts.join(', ')} (the extension never sees its value)`);
  if (consent && consent.notRequested.length > 0) {
    lines.push('Imported, not requested (never granted; every call is refused):');
    for (const entry of consent.notRequested) lines.push(`  ${entry.description}`);
  }
  if (consent?.acceptsAnyPath) {
    lines.push('It declares no endpoints: it accepts requests on any path under its URL.');
  }
  return lines;
}

/**
 * Installs after consent: the prompt on a terminal, `yes` in scripts.
 * Shared by `alga install` and the reference CLI's `alga extension install`.
 */
export async function consentAndInstall(
  client: ApiClient,
  input: { extensionId: string; version?: string; grant?: string[]; yes?: boolean },
): Promise<InstallView> {
  const { extensionId, version, grant } = input;
  if (!input.yes) {
    if (!process.stdin.isTTY) {
      throw new CliError('Installing grants capabilities; confirm on a terminal, or pass --yes in scripts.');
    }
    const consent = await client.consent(extensionId, version);
    const asked = grant ?? consent.capabilities.map((cap) => cap.id);
    for (const line of consentLines(extensionId, asked, consent)) console.error(line);
    if (!(await confirm('Grant these and install?'))) throw new CliError('Not installed: consent was not given.');
  }
  return client.install({ extensionId, ...(version ? { version } : {}), ...(grant ? { grant } : {}) });
}

/** What `alga install` prints for a finished install. */
export function printInstalled(view: InstallView): void {
  console.log(`Installed ${view.install.extensionId}@${view.install.version}`);
  if (view.install.grantedCapabilities) console.log(`  granted: ${view.install.grantedCapabilities.join(', ')}`);
  const missing = view.missingSecrets ?? [];
  const undelivered = view.undeliveredSecrets ?? [];
  for (const key of missing) {
    // A required secret that is stored yet missing was set under narrower egress limits than this version declares.
    console.log(
      undelivered.includes(key)
        ? `  secret "${key}" is stored but not given to this version, which may send it to more hosts than when it was set: alga secrets set ${key}`
        : `  secret "${key}" is not set yet: alga secrets set ${key}`,
    );
  }
  for (const key of undelivered.filter((key) => !missing.includes(key))) {
    console.log(
      `  secret "${key}" is kept but not given to this version: it does not declare it, or declares looser egress limits than the value was set under`,
    );
  }
}

type Manifest = Awaited<ReturnType<typeof loadProject>>['manifest'];

/** The manifest in `dir`, when there is one. */
async function localManifest(dir: string): Promise<Manifest | undefined> {
  return existsSync(path.join(dir, 'manifest.json')) ? (await loadProject(dir)).manifest : undefined;
}

/** The extension `alga <verb>` acts on: its argument, else the one the local manifest names. */
function extensionIdOf(arg: string | undefined, local: Manifest | undefined, verb: string): string {
  const extensionId = arg ?? local?.name;
  if (!extensionId)
    throw new CliError(`Which extension? Run inside its folder or pass its id: alga ${verb} <extensionId>`);
  return extensionId;
}

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
        const local = await localManifest(opts.dir);
        const extensionId = extensionIdOf(extensionArg, local, 'install');
        const declared = local?.name === extensionId ? local.capabilities : undefined;
        const grant = opts.grant
          ? opts.grant
              .split(',')
              .map((c) => c.trim())
              .filter(Boolean)
          : declared;
        const view = await consentAndInstall(client, {
          extensionId,
          ...(opts.version ? { version: opts.version } : {}),
          ...(grant ? { grant } : {}),
          ...(opts.yes ? { yes: true } : {}),
        });
        if (opts.json) return printJson(view);
        printInstalled(view);
      },
    );
}

/** `alga uninstall`: the reverse of `alga install`, confirmed like it (the install's data goes with it). */
export function registerUninstall(program: Command): void {
  program
    .command('uninstall [extensionId]')
    .description("Uninstall an extension from your tenant, deleting the install's config, secrets, storage and logs")
    .option('-C, --dir <dir>', 'extension folder whose manifest names the extension', '.')
    .option('-y, --yes', 'uninstall without asking (for scripts)')
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)')
    .action(async (extensionArg: string | undefined, opts: { dir: string; yes?: boolean; server?: string }) => {
      const extensionId = extensionIdOf(
        extensionArg,
        extensionArg ? undefined : await localManifest(opts.dir),
        'uninstall',
      );
      const client = await apiClient(opts);
      if (!opts.yes) {
        if (!process.stdin.isTTY) {
          throw new CliError(
            "Uninstalling deletes the install's config, secrets, storage and logs; confirm on a terminal, or pass --yes in scripts.",
          );
        }
        // Ask only about an install that exists: a typo gets the server's "not installed" first.
        await client.getInstall(extensionId);
        const question = `Uninstall ${extensionId}, deleting its config, secrets, storage and logs?`;
        if (!(await confirm(question))) throw new CliError('Not uninstalled: not confirmed.');
      }
      await client.uninstall(extensionId);
      console.log(`Uninstalled ${extensionId}`);
    });
}
