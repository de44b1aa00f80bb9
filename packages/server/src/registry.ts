/**
 * Reads of the extension registry (published extensions and their immutable
 * versions), shared by the API routes, the install service and the web UI.
 * Versions are ordered by semver precedence (semver.org §11).
 */
import * as semver from 'semver';
import type { Manifest } from '@alga-psa/protocol';
import type { Queryable } from './db/index.ts';

export interface FoundVersion {
  version: string;
  manifest: Manifest;
  contentHash: string;
  /** The component's imports as publish read them; null for versions published before they were recorded. */
  imports: string[] | null;
}

/** Manifest and content hash of one version (latest when `version` is omitted); `available` when it is not there. */
export async function findVersion(
  db: Queryable,
  extensionId: string,
  version?: string,
): Promise<FoundVersion | undefined | { available: string[] }> {
  const { rows } = await db.query<{
    version: string;
    manifest: Manifest;
    content_hash: string;
    imports: string[] | null;
  }>('SELECT version, manifest, content_hash, imports FROM extension_versions WHERE extension_id = $1', [extensionId]);
  if (rows.length === 0) return undefined;
  const sorted = [...rows].sort((a, b) => semver.compare(a.version, b.version));
  const row = version === undefined ? sorted.at(-1) : sorted.find((r) => r.version === version);
  if (!row) return { available: sorted.map((r) => r.version) };
  return { version: row.version, manifest: row.manifest, contentHash: row.content_hash, imports: row.imports };
}

export interface PublishedExtension {
  id: string;
  publisher: string;
  /** The latest version's description. */
  description: string | null;
  latestVersion: string | null;
  contentHash: string | null;
  /** Newest first. */
  versions: { version: string; contentHash: string; publishedAt: string }[];
  createdAt: string;
}

/** Every published extension with its versions, newest first. */
export async function listExtensions(db: Queryable): Promise<PublishedExtension[]> {
  const { rows } = await db.query<{
    id: string;
    publisher: string;
    created_at: Date;
    versions: { version: string; contentHash: string; publishedAt: string; description: string | null }[];
  }>(
    `SELECT e.id, e.publisher, e.created_at,
            coalesce(jsonb_agg(jsonb_build_object(
              'version', v.version, 'contentHash', v.content_hash,
              'publishedAt', v.published_at, 'description', v.manifest->>'description'))
              FILTER (WHERE v.version IS NOT NULL), '[]'::jsonb) AS versions
       FROM extensions e LEFT JOIN extension_versions v ON v.extension_id = e.id
      GROUP BY e.id, e.publisher, e.created_at
      ORDER BY e.id`,
  );
  return rows.map((row) => {
    const versions = [...row.versions].sort((a, b) => semver.rcompare(a.version, b.version));
    const latest = versions[0];
    return {
      id: row.id,
      publisher: row.publisher,
      description: latest?.description ?? null,
      latestVersion: latest?.version ?? null,
      contentHash: latest?.contentHash ?? null,
      versions: versions.map((v) => ({ version: v.version, contentHash: v.contentHash, publishedAt: v.publishedAt })),
      createdAt: row.created_at.toISOString(),
    };
  });
}
