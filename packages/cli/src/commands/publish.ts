import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { PublishedVersion } from '@alga-psa/protocol';
import { ServerApiError, type ApiClient } from '../api/client.ts';
import { loadManifest } from '../build/manifest.ts';
import { CliError } from '../lib/errors.ts';
import { apiClient } from '../lib/credentials.ts';
import { packExtension } from '../pack/index.ts';
import { formatBytes, progressReporter, status } from '../output.ts';
import { archiveSubject, readSignatureFile, signSubject } from '../lib/signing.ts';

export function register(program: Command): void {
  program
    .command('publish')
    .description('Pack the extension and upload it to the server as a new version')
    .option('-C, --dir <dir>', 'extension folder', '.')
    .option('--server <url>', 'server URL (default: ALGA_SERVER_URL or the login file)')
    .option('--sign <keyFile>', 'sign the bundle with this publisher private key (alga keys generate)')
    .option('--signature <file>', 'send this signature (alga sign) with the bundle')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { dir: string; server?: string; json?: boolean; sign?: string; signature?: string }) => {
      if (opts.sign && opts.signature) throw new CliError('Give --sign or --signature, not both.');
      const client = await apiClient(opts);
      const { result, archiveSha256 } = await publishProject(client, opts.dir, opts);
      if (opts.json) return console.log(JSON.stringify({ ...result, archive: archiveSha256 }, null, 2));
      // A server from before warnings sends none.
      for (const warning of result.warnings ?? []) console.error(`warning: ${warning}`);
      console.log(`Published ${result.extensionId}@${result.version} (${result.contentHash}) to ${client.serverUrl}`);
      if (result.signedBy) console.log(`  signed by ${result.signedBy}`);
      console.log(`  install it with: alga install ${result.extensionId}`);
    });
}

/** The content hash the server holds for that version, if it holds it (a server without the listing: unknown). */
async function publishedContent(client: ApiClient, name: string, version: string): Promise<string | undefined> {
  let listing: Awaited<ReturnType<ApiClient['listExtensions']>>;
  try {
    listing = await client.listExtensions();
  } catch (error) {
    if (error instanceof ServerApiError && error.status === 404) return undefined;
    throw error;
  }
  const versions = listing.extensions.find((e) => e.id === name)?.versions ?? [];
  return versions.find((v) => v.version === version)?.contentHash;
}

/**
 * Builds, packs and publishes the extension in `dir`: the work of `alga publish`,
 * shared with the reference CLI's `alga extension publish <dir>`.
 */
export async function publishProject(
  client: ApiClient,
  dir: string,
  /** A publisher key to sign with, or a signature file `alga sign` wrote. */
  signing: { sign?: string | undefined; signature?: string | undefined } = {},
): Promise<{ result: PublishedVersion; archiveSha256: string }> {
  const { manifest } = await loadManifest(path.resolve(dir));
  // Asked before building: a version the server already holds can only be re-sent byte for byte,
  // and finding out after a componentize costs the author half a minute.
  const published = await publishedContent(client, manifest.name, manifest.version);
  const alreadyPublished = (why: string) =>
    new CliError(
      `${manifest.name}@${manifest.version} is already published on ${client.serverUrl} (${published}) and ${why}; published versions are immutable, so bump "version" in manifest.json.`,
    );
  const progress = progressReporter();
  const packed = await packExtension({
    dir,
    onProgress: progress.step,
    ...(published
      ? {
          beforeComponentize: () => {
            throw alreadyPublished('the sources changed since the last local build');
          },
        }
      : {}),
  }).finally(progress.done);
  if (published && packed.build.metadata.contentHash !== published) {
    throw alreadyPublished(`this build is ${packed.build.metadata.contentHash}`);
  }
  const archive = await readFile(packed.file);
  const signature = signing.sign
    ? await signSubject(signing.sign, await archiveSubject(packed.file))
    : signing.signature
      ? await readSignatureFile(signing.signature)
      : undefined;
  let result: PublishedVersion;
  try {
    result = await client.publishArchive(archive, uploadProgress(), undefined, signature);
  } catch (error) {
    // A server from before the archive endpoint: the two-step API says the same thing.
    if (!(error instanceof ServerApiError && error.status === 404 && error.code === 'ALGA_NOT_FOUND')) throw error;
    status('  this server has no archive endpoint; uploading the component and manifest separately');
    const { metadata } = packed.build;
    await client.uploadBundle(metadata.contentHash, await readFile(packed.build.componentPath));
    const manifest = JSON.parse(await readFile(path.join(path.resolve(dir), 'manifest.json'), 'utf8')) as unknown;
    result = await client.publishVersion({
      manifest,
      contentHash: metadata.contentHash,
      metadata,
      ...(signature ? { signature } : {}),
    });
  }
  return { result, archiveSha256: packed.sha256 };
}

/** Upload progress lines for `publishArchive`. */
export function uploadProgress(): (sent: number, total: number) => void {
  let lastShown = -1;
  return (sent, total) => {
    const percent = Math.floor((sent / total) * 100);
    // Every 10%, so a slow link shows movement without flooding a log.
    if (percent >= lastShown + 10 || sent === total) {
      lastShown = percent;
      status(`  uploading ${formatBytes(sent)} / ${formatBytes(total)} (${percent}%)`);
    }
  };
}
