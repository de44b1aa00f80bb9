/**
 * The reference CLI's spellings (`@alga-psa/cli` 0.2.0, REFERENCE-HOST.md §8),
 * so its scripts and docs work here: `alga create component`, `alga component
 * create`, `alga extension publish|install|uninstall`, with its flags and its
 * ALGA_API_KEY / ALGA_API_BASE_URL / ALGA_TENANT_ID variables. Each runs the
 * same code as this CLI's own command; consent is still asked before an
 * install (on a terminal, or `--yes` in scripts).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { PublishedVersion } from '@alga-psa/protocol';
import { apiClient } from '../lib/credentials.ts';
import { CliError } from '../lib/errors.ts';
import { consentAndInstall, printInstalled } from './install.ts';
import { createComponent } from './new.ts';
import { publishProject, uploadProgress } from './publish.ts';

interface ConnectionOptions {
  apiKey?: string;
  tenant?: string;
  baseUrl?: string;
  timeout?: string;
}

/** The reference CLI's connection flags; each falls back to its environment variable. */
function connectionOptions(command: Command): Command {
  return command
    .option('--apikey, --api-key <key>', 'API key (default: ALGA_API_KEY or the login file)')
    .option(
      '--tenant-id, --tenant <tenant>',
      "tenant id (default: ALGA_TENANT_ID or ALGA_TENANT); sent as x-tenant-id, refused unless it is the API key's tenant",
    )
    .option('--url, --base-url <url>', 'server URL (default: ALGA_API_BASE_URL, ALGA_SERVER_URL or the login file)')
    .option('--timeout <ms>', 'give up on each server call after this many milliseconds');
}

async function connect(opts: ConnectionOptions) {
  const timeoutMs = opts.timeout === undefined ? undefined : Number(opts.timeout);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) {
    throw new CliError(`--timeout must be a whole number of milliseconds, got "${opts.timeout}".`);
  }
  // As the reference CLI, the tenant goes as x-tenant-id; the key decides the tenant here, so the
  // server refuses a header naming another one instead of acting on the key's tenant unasked.
  const tenantId = (opts.tenant ?? (process.env['ALGA_TENANT_ID'] || process.env['ALGA_TENANT']))?.trim();
  const client = await apiClient({
    ...(opts.baseUrl ? { server: opts.baseUrl } : {}),
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(tenantId ? { tenantId } : {}),
  });
  return { client };
}

function createCommand(parent: Command, name: string, description: string): void {
  parent
    .command(`${name} <name>`)
    .description(description)
    .option('--template <template>', 'template (component-basic is the one this CLI ships)')
    .option('--directory, --dir <dir>', 'where to create it (default: ./<name>)')
    .action(async (extName: string, opts: { template?: string; dir?: string }) => {
      // The reference's template names for a component map to ours; its UI-only templates have no counterpart.
      if (opts.template && opts.template !== 'component-basic' && opts.template !== 'basic') {
        throw new CliError(`No template "${opts.template}" here; this CLI ships "component-basic".`);
      }
      await createComponent(extName, opts.dir);
    });
}

export function register(program: Command): void {
  const create = program
    .command('create')
    .description('Create an extension (the reference CLI’s spelling of alga new)');
  createCommand(create, 'component', 'Scaffold a component extension (same as alga new component)');
  createCommand(create, 'extension', 'Scaffold an extension (same as alga new component)');
  const component = program.command('component').description('Component commands (reference CLI spelling)');
  createCommand(component, 'create', 'Scaffold a component extension (same as alga new component)');

  const extension = program.command('extension').description('Publish and install extensions (reference CLI spelling)');

  connectionOptions(
    extension
      .command('publish <path>')
      .description('Publish a project folder or a bundle.tar.zst, then install it unless --no-install'),
  )
    .option('--no-install', 'publish only')
    .option('-f, --force', 'accepted for the reference CLI; versions are immutable here either way')
    .option('-y, --yes', 'grant the install without asking (for scripts)')
    .action(async (target: string, opts: ConnectionOptions & { install: boolean; yes?: boolean }) => {
      const { client } = await connect(opts);
      const info = await stat(target).catch(() => undefined);
      if (!info) throw new CliError(`${target} does not exist; pass a project folder or a bundle.tar.zst.`);
      let result: PublishedVersion;
      if (info.isDirectory()) {
        result = (await publishProject(client, target)).result;
      } else if (/\.tar\.zst$/.test(target)) {
        result = await client.publishArchive(await readFile(target), uploadProgress(), 'application/zstd');
      } else if (/\.(tgz|tar\.gz)$/.test(target)) {
        result = await client.publishArchive(await readFile(target), uploadProgress());
      } else {
        throw new CliError(`${path.basename(target)} is neither a folder nor a .tar.zst or .tgz bundle.`);
      }
      for (const warning of result.warnings ?? []) console.error(`warning: ${warning}`);
      let installId: string | null = null;
      if (opts.install) {
        // As the reference CLI does, a failed install after a good publish is a warning, not a failure.
        try {
          const view = await consentAndInstall(client, {
            extensionId: result.extensionId,
            version: result.version,
            ...(opts.yes ? { yes: true } : {}),
          });
          installId = view.install.id;
        } catch (error) {
          console.error(
            `warning: published, but not installed: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      // The reference CLI's result line: registryId is this platform's extension id, versionId its version.
      console.log(
        JSON.stringify(
          { registryId: result.extensionId, versionId: result.version, contentHash: result.contentHash, installId },
          null,
          2,
        ),
      );
    });

  connectionOptions(
    extension
      .command('install <registryId>')
      .description('Install a published version for your tenant (asks consent; --yes in scripts)'),
  )
    .option('-v, --version <version>', 'version to install (default: ALGA_EXTENSION_VERSION)')
    .option('-y, --yes', 'grant without asking (for scripts)')
    .action(async (registryId: string, opts: ConnectionOptions & { version?: string; yes?: boolean }) => {
      const version = opts.version ?? process.env['ALGA_EXTENSION_VERSION'];
      if (!version) throw new CliError('Which version? Pass --version <version> (or set ALGA_EXTENSION_VERSION).');
      const { client } = await connect(opts);
      const view = await consentAndInstall(client, {
        extensionId: registryId,
        version,
        ...(opts.yes ? { yes: true } : {}),
      });
      printInstalled(view);
    });

  connectionOptions(
    extension.command('uninstall <registryId>').description('Uninstall an extension from your tenant'),
  ).action(async (registryId: string, opts: ConnectionOptions) => {
    const { client } = await connect(opts);
    await client.uninstall(registryId);
    console.log(`Uninstalled ${registryId}`);
  });
}
