import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buildExtension, type ApiClient } from '@alga-psa/cli';

/** What the server writes (0600) when it creates the first tenant. */
export interface BootstrapCredentials {
  tenantId: string;
  apiKey: string;
  /** Web UI sign-in for admin@demo.local / viewer@demo.local / client@demo.local (client portal). */
  adminPassword?: string;
  viewerPassword?: string;
  clientPassword?: string;
}

export async function readBootstrap(file: string): Promise<BootstrapCredentials> {
  return JSON.parse(await readFile(file, 'utf8')) as BootstrapCredentials;
}

/**
 * Builds an extension folder and makes it answer through the gateway for the
 * client's tenant: upload the component, publish the version (idempotent),
 * install it (idempotent). Returns the extension id.
 */
export async function deployExtension(
  client: ApiClient,
  dir: string,
  onProgress: (message: string) => void = () => {},
): Promise<{ extensionId: string; cached: boolean }> {
  const build = await buildExtension({ dir, onProgress });
  const { metadata } = build;
  onProgress(
    `${build.cached ? 'reused' : 'built'} ${metadata.name}@${metadata.version} (${metadata.contentHash.slice(0, 19)}…)`,
  );
  const manifest = JSON.parse(await readFile(`${dir}/manifest.json`, 'utf8')) as unknown;
  await client.uploadBundle(metadata.contentHash, await readFile(build.componentPath));
  await client.publishVersion({ manifest, contentHash: metadata.contentHash, metadata });
  await client.install({ extensionId: metadata.name, version: metadata.version });
  return { extensionId: metadata.name, cached: build.cached };
}

/** Sets a random demo value for `key` unless the install already has one. */
export async function ensureDemoSecret(client: ApiClient, extensionId: string, key: string): Promise<boolean> {
  const view = await client.getInstall(extensionId);
  if (view.secrets?.some((s) => s.key === key && s.set)) return false;
  await client.setSecret(extensionId, key, `demo-${randomBytes(12).toString('hex')}`);
  return true;
}
