/**
 * One publish path for both APIs (the archive upload and the older
 * bundle-then-version pair): validate the manifest, check the component's
 * imports against it, then record the immutable version. Same version with
 * the same content is idempotent (200); different content is a 409.
 */
import { createHash } from 'node:crypto';
import * as semver from 'semver';
import { canonicalJson as canonical } from '@alga-psa/service-auth/bundle-signature';
import type { Manifest, ManifestProblem } from '@alga-psa/protocol';
import { resolveWildcardVersion, validateManifest } from '@alga-psa/protocol/manifest';
import type { Db } from '../db/index.ts';
import type { Principal } from '../auth/api-keys.ts';
import { extensionOwnedElsewhere, manifestInvalid, publisherMismatch, versionImmutable } from '../errors.ts';
import { insertAudit } from '../installs/store.ts';
import { SigningService } from '../signing/index.ts';
import { verifyComponent } from './component.ts';

export interface UiFileRecord {
  path: string;
  contentHash: string;
  size: number;
  contentType: string;
}

export interface PublishInput {
  manifest: Manifest;
  /** The defaults `parseManifest` applied to a reference-format manifest; answered as warnings. */
  notes?: string[];
  contentHash: string;
  component: Uint8Array;
  metadata: Record<string, unknown>;
  /** Set when published from an archive. */
  archive?: { contentHash: string; digest: string; uiFiles: UiFileRecord[] };
  /** Runs once the component passed its checks, before the version is recorded (stores the bytes). */
  store?: () => Promise<void>;
  /** The publisher's detached signature document as sent (checked against the trust policy). */
  signature?: unknown;
  /** manifest.json as the publisher wrote it (what the signature's manifest digest covers); default `manifest`. */
  manifestJson?: unknown;
}

export interface PublishResult {
  created: boolean;
  extensionId: string;
  version: string;
  contentHash: string;
  imports: string[];
  /** The manifest's notes, the signature check's, then the component checks' (`importWarnings`). */
  warnings: string[];
  /** The key id that signed the version, null when unsigned. */
  signedBy: string | null;
}

export interface ParsedManifest {
  manifest: Manifest;
  /** Safe defaults applied to a reference-format manifest (publish answers them as warnings). */
  notes: string[];
}

export function parseManifest(value: unknown): ParsedManifest {
  const result = validateManifest(value);
  const errors: ManifestProblem[] = result.ok ? [] : [...result.errors];
  // The schema's pattern admits numbers too large to order; versions are sorted with `semver`.
  const concrete = result.ok ? resolveWildcardVersion(result.manifest.version, []) : '';
  if (result.ok && !semver.valid(concrete)) {
    // semver refuses a version over 256 characters as well as a part past 2^53: say which.
    errors.push({
      path: 'version',
      message:
        concrete.length > 256
          ? `version is ${concrete.length} characters long; keep it to 256.`
          : 'version has a number too large; keep each part below 2^53.',
    });
  }
  if (!result.ok || errors.length > 0) {
    throw manifestInvalid(
      { problems: errors.map((e) => `${e.path || 'manifest'}: ${e.message}`).join(' ') },
      { details: errors },
    );
  }
  return { manifest: result.manifest, notes: result.notes };
}

/**
 * A digest of what a bundle holds (paths and file hashes), independent of
 * tar headers and gzip timestamps, so re-packing the same build is not
 * mistaken for new content.
 */
export function filesDigest(files: Iterable<[string, Uint8Array]>): string {
  const lines = [...files]
    .map(([path, bytes]) => `${path}\0${createHash('sha256').update(bytes).digest('hex')}`)
    .sort();
  return `sha256:${createHash('sha256').update(lines.join('\n')).digest('hex')}`;
}

export async function publishVersion(
  db: Db,
  principal: Principal,
  input: PublishInput,
  requestId: string,
  signing: SigningService = new SigningService(db),
) {
  const { contentHash } = input;
  let manifest = input.manifest;
  // The signature first: a refused signature is the answer whatever else is wrong.
  const signed = await signing.checkPublish(
    principal.tenantId,
    contentHash,
    input.manifestJson ?? manifest,
    input.signature,
  );
  const checked = await verifyComponent(input.component, manifest);
  const { imports } = checked;
  const warnings = [...(input.notes ?? []), ...signed.warnings, ...checked.warnings];
  // Content-addressed and idempotent: bytes stored for a publish that then fails are harmless.
  await input.store?.();
  let signedBy = signed.signature?.keyId ?? null;
  const created = await db.transaction(async (tx) => {
    // Insert-or-read in one statement so two concurrent first publishes agree on the owner.
    await tx.query(
      'INSERT INTO extensions (id, publisher, owner_tenant_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
      [manifest.name, manifest.publisher, principal.tenantId],
    );
    const { rows: extensions } = await tx.query<{ publisher: string; owner_tenant_id: string | null }>(
      'SELECT publisher, owner_tenant_id FROM extensions WHERE id = $1 FOR UPDATE',
      [manifest.name],
    );
    const extension = extensions[0]!;
    if (extension.owner_tenant_id !== principal.tenantId) {
      throw extensionOwnedElsewhere({ extensionId: manifest.name });
    }
    if (extension.publisher !== manifest.publisher) {
      throw publisherMismatch({
        extensionId: manifest.name,
        publisher: extension.publisher,
        given: manifest.publisher,
      });
    }
    if (manifest.versionPattern !== undefined) {
      // Under the extension's row lock, so two concurrent wildcard publishes get distinct versions.
      const { rows: published } = await tx.query<{ version: string }>(
        'SELECT version FROM extension_versions WHERE extension_id = $1',
        [manifest.name],
      );
      const version = resolveWildcardVersion(
        manifest.versionPattern,
        published.map((row) => row.version),
      );
      manifest = { ...manifest, version };
      warnings.unshift(`Version "${manifest.versionPattern}" was published as ${version}.`);
    }
    const { rows: existing } = await tx.query<{
      content_hash: string;
      manifest: Manifest;
      files_digest: string | null;
      signature: unknown;
    }>(
      'SELECT content_hash, manifest, files_digest, signature FROM extension_versions WHERE extension_id = $1 AND version = $2',
      [manifest.name, manifest.version],
    );
    const previous = existing[0];
    if (previous) {
      const same =
        previous.content_hash === contentHash &&
        canonical(previous.manifest) === canonical(manifest) &&
        (previous.files_digest ?? null) === (input.archive?.digest ?? previous.files_digest ?? null);
      if (same) {
        // A published version is immutable, its signature (or lack of one) included.
        const stored = (previous.signature as { keyId?: string } | null)?.keyId ?? null;
        if (stored !== (signed.signature?.keyId ?? null)) {
          warnings.push(
            `${manifest.name}@${manifest.version} was already published ${stored ? `signed by ${stored}` : 'unsigned'}, and a published version does not change; publish a new version to change its signature.`,
          );
        }
        signedBy = stored;
        return false;
      }
      throw versionImmutable({
        extensionId: manifest.name,
        version: manifest.version,
        contentHash: previous.content_hash,
      });
    }
    await tx.query(
      `INSERT INTO extension_versions (extension_id, version, content_hash, manifest, metadata, archive_hash, files_digest, imports,
                                       signature, signing_key_id)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7, $8::jsonb, $9::jsonb, $10)`,
      [
        manifest.name,
        manifest.version,
        contentHash,
        JSON.stringify(manifest),
        JSON.stringify(input.metadata),
        input.archive?.contentHash ?? null,
        input.archive?.digest ?? null,
        JSON.stringify(imports),
        signed.signature ? JSON.stringify(signed.signature) : null,
        signed.signature?.keyId ?? null,
      ],
    );
    for (const file of input.archive?.uiFiles ?? []) {
      await tx.query(
        `INSERT INTO extension_ui_files (extension_id, version, path, content_hash, size, content_type)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [manifest.name, manifest.version, file.path, file.contentHash, file.size, file.contentType],
      );
    }
    await insertAudit(tx, {
      actor: principal.actor,
      tenantId: principal.tenantId,
      action: 'extension.publish',
      requestId,
    });
    return true;
  });
  return {
    created,
    extensionId: manifest.name,
    version: manifest.version,
    contentHash,
    imports,
    warnings,
    signedBy,
  } satisfies PublishResult;
}
