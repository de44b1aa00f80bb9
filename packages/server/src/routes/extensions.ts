import type { FastifyInstance } from 'fastify';
import type { BundleStore } from '@alga-psa/bundle-store';
import type { PublishedVersion } from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import { bundleNotUploaded } from '../errors.ts';
import { parseManifest, publishVersion } from '../publish/publish.ts';
import { listExtensions } from '../registry.ts';
import type { SigningService } from '../signing/index.ts';
import { normalizeContentHash } from './bundles.ts';

interface PublishBody {
  manifest: unknown;
  contentHash: string;
  metadata?: Record<string, unknown>;
  signature?: unknown;
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
      /** The signature document `alga sign` writes. */
      signature: { type: 'object' },
    },
  },
} as const;

export function extensionRoutes(app: FastifyInstance, db: Db, bundles: BundleStore, signing?: SigningService): void {
  // The older two-step publish (PUT the component, then POST the version);
  // scripts and the CLI use it. It runs the same component checks as the archive route.
  app.post<{ Body: PublishBody }>('/api/v1/extensions/versions', { schema: publishSchema }, async (request, reply) => {
    const principal = principalOf(request);
    const { manifest, notes } = parseManifest(request.body.manifest);
    const contentHash = normalizeContentHash(request.body.contentHash);
    const component = await bundles.get(contentHash);
    if (component === undefined) throw bundleNotUploaded({ contentHash });
    const result = await publishVersion(
      db,
      principal,
      {
        manifest,
        notes,
        contentHash,
        component,
        metadata: request.body.metadata ?? {},
        signature: request.body.signature,
        manifestJson: request.body.manifest,
      },
      request.id,
      signing,
    );
    return reply.code(result.created ? 201 : 200).send({
      extensionId: result.extensionId,
      version: result.version,
      contentHash,
      warnings: result.warnings,
      signedBy: result.signedBy,
    } satisfies PublishedVersion);
  });

  app.get('/api/v1/extensions', async () => ({ extensions: await listExtensions(db) }));
}
