import type { FastifyInstance } from 'fastify';
import { AlgaError, validateManifest, type Manifest } from '@alga-psa/protocol';
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import { audit } from '../data/installs.ts';
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
  app.post<{ Body: PublishBody }>('/api/v1/extensions/versions', { schema: publishSchema }, async (request, reply) => {
    const principal = principalOf(request);
    const result = validateManifest(request.body.manifest);
    if (!result.ok) {
      throw new AlgaError(
        'ALGA_INVALID_MANIFEST',
        `The manifest is invalid: ${result.errors.map((e) => `${e.path || 'manifest'}: ${e.message}`).join(' ')}`,
        {
          details: result.errors,
        },
      );
    }
    const manifest = result.manifest;
    const contentHash = normalizeContentHash(request.body.contentHash);
    if ((await bundles.get(contentHash)) === undefined) {
      throw new AlgaError(
        'ALGA_BUNDLE_NOT_FOUND',
        `No bundle ${contentHash}; upload it first with PUT /api/v1/bundles/${contentHash}.`,
      );
    }

    const outcome = await db.transaction(async (tx) => {
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
        throw new AlgaError(
          'ALGA_FORBIDDEN',
          `Extension "${manifest.name}" is published by another tenant; choose another "name".`,
        );
      }
      if (extension.publisher !== manifest.publisher) {
        throw new AlgaError(
          'ALGA_VERSION_CONFLICT',
          `Extension "${manifest.name}" is published by "${extension.publisher}", not "${manifest.publisher}"; set "publisher" to "${extension.publisher}".`,
        );
      }
      const { rows: existing } = await tx.query<{ content_hash: string }>(
        'SELECT content_hash FROM extension_versions WHERE extension_id = $1 AND version = $2',
        [manifest.name, manifest.version],
      );
      if (existing[0]) {
        if (existing[0].content_hash === contentHash) return 'unchanged' as const;
        throw new AlgaError(
          'ALGA_VERSION_CONFLICT',
          `${manifest.name}@${manifest.version} was already published with ${existing[0].content_hash}; published versions are immutable, so bump "version".`,
        );
      }
      await tx.query(
        'INSERT INTO extension_versions (extension_id, version, content_hash, manifest, metadata) VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)',
        [
          manifest.name,
          manifest.version,
          contentHash,
          JSON.stringify(manifest),
          JSON.stringify(request.body.metadata ?? {}),
        ],
      );
      await audit(tx, {
        actor: principal.actor,
        tenantId: principal.tenantId,
        action: 'extension.publish',
        requestId: request.id,
      });
      return 'created' as const;
    });
    return reply
      .code(outcome === 'created' ? 201 : 200)
      .send({ extensionId: manifest.name, version: manifest.version, contentHash });
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
