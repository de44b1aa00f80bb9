import type { FastifyInstance } from 'fastify';
import { AlgaError, type Manifest } from '@alga-psa/protocol';
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import { parseManifest, publishVersion } from '../publish/publish.ts';
import { compareSemver } from '../data/semver.ts';
import { normalizeContentHash } from './bundles.ts';

interface PublishBody {
  manifest: unknown;
  contentHash: string;
  metadata?: Record<string, unknown>;
}

const publishSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['manifest', 'contentHash'],
    properties: {
      manifest: { type: 'object' },
      contentHash: { type: 'string' },
      metadata: { type: 'object' },
    },
  },
} as const;

export function extensionRoutes(app: FastifyInstance, db: Db, bundles: BundleStore): void {
  // The older two-step publish (PUT the component, then POST the version);
  // scripts and the CLI use it. It runs the same component checks as the archive route.
  app.post<{ Body: PublishBody }>('/api/v1/extensions/versions', { schema: publishSchema }, async (request, reply) => {
    const principal = principalOf(request);
    const manifest = parseManifest(request.body.manifest);
    const contentHash = normalizeContentHash(request.body.contentHash);
    const component = await bundles.get(contentHash);
    if (component === undefined) {
      throw new AlgaError(
        'ALGA_BUNDLE_NOT_FOUND',
        `No bundle ${contentHash}; upload it first with PUT /api/v1/bundles/${contentHash}.`,
      );
    }
    const result = await publishVersion(
      db,
      principal,
      { manifest, contentHash, component, metadata: request.body.metadata ?? {} },
      request.id,
    );
    return reply
      .code(result.created ? 201 : 200)
      .send({ extensionId: result.extensionId, version: result.version, contentHash });
  });

  app.get('/api/v1/extensions', async () => {
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
    return {
      extensions: rows.map((row) => {
        const versions = [...row.versions].sort((a, b) => compareSemver(b.version, a.version));
        const latest = versions[0];
        return {
          id: row.id,
          publisher: row.publisher,
          description: latest?.description ?? null,
          latestVersion: latest?.version ?? null,
          contentHash: latest?.contentHash ?? null,
          versions: versions.map((v) => ({
            version: v.version,
            contentHash: v.contentHash,
            publishedAt: v.publishedAt,
          })),
          createdAt: row.created_at.toISOString(),
        };
      }),
    };
  });
}

/** Manifest and content hash of one version (latest when `version` is omitted). */
export async function findVersion(
  db: Db,
  extensionId: string,
  version?: string,
): Promise<{ version: string; manifest: Manifest; contentHash: string } | undefined | { available: string[] }> {
  const { rows } = await db.query<{ version: string; manifest: Manifest; content_hash: string }>(
    'SELECT version, manifest, content_hash FROM extension_versions WHERE extension_id = $1',
    [extensionId],
  );
  if (rows.length === 0) return undefined;
  const sorted = [...rows].sort((a, b) => compareSemver(a.version, b.version));
  const row = version === undefined ? sorted.at(-1) : sorted.find((r) => r.version === version);
  if (!row) return { available: sorted.map((r) => r.version) };
  return { version: row.version, manifest: row.manifest, contentHash: row.content_hash };
}
