/**
 * The reference host's publish and install routes (REFERENCE-HOST.md §2, §7),
 * so its CLI (`alga extension publish|install|uninstall`) works against this
 * server unchanged. They are adapters: every check and write is the one
 * this platform's own routes use (archive rules, manifest, imports,
 * installs), authenticated by an API key (`x-api-key` or `Authorization`).
 *
 * Success answers take the reference's shapes. Errors of upload-proxy and
 * finalize take the reference's body too (reference-errors.ts), since its CLI
 * reads them; install/uninstall/update keep this platform's
 * `{error:{code,message}}` (the reference documents none for them).
 * upload-proxy is rate limited per client address, as on the reference.
 */
import type { FastifyInstance } from 'fastify';
import fastifyRateLimit, { type CreateRateLimitOptions } from '@fastify/rate-limit';
import { Type } from 'typebox';
import { DEFAULT_BUNDLE_LIMITS, type BundleLimits } from '@alga-psa/protocol';
import { contentHashOf } from '@alga-psa/bundle-store';
import { principalOf } from '../auth/plugin.ts';
import {
  archiveBodyMissing,
  bundleHashMismatch,
  stagedBundleMissing,
  stagingKeyInvalid,
  uploadRateLimited,
} from '../errors.ts';
import { installInfo, type InstallService } from '../installs/service.ts';
import { apiActor } from './installs.ts';
import { publishArchive, type PublishRouteDeps } from './publish.ts';
import { referenceErrorHandler } from './reference-errors.ts';

export interface UploadRateLimit {
  /** Uploads one client address may start per minute. */
  perMinute: number;
  /** Addresses tracked at once (an LRU: bounded memory). Default 10 000. */
  maxAddresses?: number;
}

/** The reference host's limit on upload-proxy: 30 a minute per address. */
export const DEFAULT_UPLOAD_RATE_LIMIT: UploadRateLimit = { perMinute: 30 };

export interface ReferenceRouteDeps extends PublishRouteDeps {
  installs: InstallService;
  /** `false`: no limit (tests, or a proxy in front that limits). */
  uploadRateLimit?: UploadRateLimit | false;
}

/** `ALGA_UPLOAD_PROXY_RATE_LIMIT` (uploads per minute per address, `0` = off); undefined when unset. */
export function uploadRateLimitFromEnv(env: NodeJS.ProcessEnv): UploadRateLimit | false | undefined {
  const value = env['ALGA_UPLOAD_PROXY_RATE_LIMIT'];
  if (value === undefined || value.trim() === '') return undefined;
  const perMinute = Number(value);
  if (!Number.isInteger(perMinute) || perMinute < 0) {
    throw new Error(`ALGA_UPLOAD_PROXY_RATE_LIMIT must be a whole number ≥ 0, got ${JSON.stringify(value)}.`);
  }
  return perMinute === 0 ? false : { perMinute };
}

/**
 * `sha256/_staging/<hex>/bundle.tar.zst`: the reference's staging key shape,
 * with the archive's own sha256 where the reference has a random id, so the
 * key names the stored bytes and no staging state is kept between the two
 * steps (any server replica can finalize).
 */
const STAGING_KEY = /^sha256\/_staging\/([0-9a-f]{64})\/bundle\.tar\.zst$/;

const UploadQuery = Type.Object({
  filename: Type.String({ minLength: 1, maxLength: 255 }),
  size: Type.String({ pattern: '^[0-9]{1,12}$' }),
  declaredHash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
});

const FinalizeBody = Type.Object({
  key: Type.String({ maxLength: 512 }),
  declaredHash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  size: Type.Optional(Type.Number()),
  manifestJson: Type.Optional(Type.String({ maxLength: 1024 * 1024 })),
  signature: Type.Optional(
    Type.Object({
      text: Type.Optional(Type.String({ maxLength: 64 * 1024 })),
      algorithm: Type.Optional(Type.Union([Type.Literal('cosign'), Type.Literal('x509'), Type.Literal('pgp')])),
    }),
  ),
});

const InstallBody = Type.Object({
  registryId: Type.String({ minLength: 1, maxLength: 128 }),
  version: Type.String({ minLength: 1, maxLength: 256 }),
});
const UninstallBody = Type.Object({ registryId: Type.String({ minLength: 1, maxLength: 128 }) });
const UpdateBody = Type.Object({
  registryId: Type.String({ minLength: 1, maxLength: 128 }),
  version: Type.String({ minLength: 1, maxLength: 256 }),
  disableMissingSchedules: Type.Optional(Type.Boolean()),
});

export function referenceRoutes(app: FastifyInstance, deps: ReferenceRouteDeps): void {
  const limits: BundleLimits = { ...DEFAULT_BUNDLE_LIMITS, ...deps.limits };

  const rateLimit = deps.uploadRateLimit ?? DEFAULT_UPLOAD_RATE_LIMIT;
  void app.register(async (bundles) => {
    let limit: ReturnType<FastifyInstance['createRateLimit']> | undefined;
    if (rateLimit) {
      if (!(rateLimit.perMinute > 0)) throw new RangeError('upload rate limit perMinute must be > 0');
      await bundles.register(fastifyRateLimit, { global: false });
      const options: CreateRateLimitOptions & { cache: number } = {
        max: rateLimit.perMinute,
        timeWindow: 60_000,
        keyGenerator: (request) => request.ip,
        cache: rateLimit.maxAddresses ?? 10_000,
      };
      limit = bundles.createRateLimit(options);
    }

    // Step 1: the raw archive (application/octet-stream), stored by its hash.
    bundles.post<{ Querystring: { filename: string; size: string; declaredHash?: string } }>(
      '/api/ext-bundles/upload-proxy',
      {
        bodyLimit: limits.maxArchiveBytes,
        schema: { querystring: UploadQuery },
        errorHandler: referenceErrorHandler('upload-proxy'),
        // Before the body is read: a refused upload costs no bandwidth or memory.
        onRequest: async (request) => {
          if (!limit) return;
          const result = await limit(request);
          if (!result.isAllowed && result.isExceeded) {
            const seconds = Math.max(1, result.ttlInSeconds);
            throw uploadRateLimited({ seconds }, { details: { retryAfterSeconds: seconds } });
          }
        },
      },
      async (request) => {
        principalOf(request);
        const body = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) throw archiveBodyMissing();
        const { filename, size, declaredHash } = request.query;
        const hex = contentHashOf(body).slice('sha256:'.length);
        if (Number(size) !== body.length) {
          throw stagingKeyInvalid({ problem: `size says ${size} bytes, the body has ${body.length}` });
        }
        if (declaredHash !== undefined && declaredHash !== hex) {
          throw bundleHashMismatch({ claimed: `sha256:${declaredHash}`, actual: `sha256:${hex}` });
        }
        await deps.bundles.put(body);
        return {
          upload: { key: `sha256/_staging/${hex}/bundle.tar.zst`, strategy: 'staging' },
          filename,
          size: body.length,
          ...(declaredHash ? { declaredHash } : {}),
        };
      },
    );

    // Step 2: publish the staged archive through the same path as POST /api/v1/extensions/publish.
    bundles.post<{ Body: { key: string; declaredHash?: string; manifestJson?: string } }>(
      '/api/ext-bundles/finalize',
      { schema: { body: FinalizeBody }, errorHandler: referenceErrorHandler('finalize') },
      async (request) => {
        const principal = principalOf(request);
        const match = STAGING_KEY.exec(request.body.key);
        if (!match) {
          throw stagingKeyInvalid({
            problem: 'key must be the sha256/_staging/<hash>/bundle.tar.zst upload-proxy answered',
          });
        }
        const hash = `sha256:${match[1]!}`;
        if (request.body.declaredHash !== undefined && `sha256:${request.body.declaredHash}` !== hash) {
          throw bundleHashMismatch({ claimed: `sha256:${request.body.declaredHash}`, actual: hash });
        }
        const stored = await deps.bundles.get(hash);
        if (stored === undefined) throw stagedBundleMissing({ contentHash: hash });
        const archive = Buffer.from(stored);
        const { result, archiveHash } = await publishArchive(
          deps,
          principal,
          archive,
          request.id,
          limits,
          request.body.manifestJson,
        );
        const { rows } = await deps.db.query<{ id: string; publisher: string }>(
          `SELECT v.id, e.publisher FROM extension_versions v JOIN extensions e ON e.id = v.extension_id
            WHERE v.extension_id = $1 AND v.version = $2`,
          [result.extensionId, result.version],
        );
        return {
          extension: { id: result.extensionId, name: result.extensionId, publisher: rows[0]?.publisher ?? null },
          version: { id: rows[0]?.id ?? null, version: result.version },
          contentHash: archiveHash,
          canonicalKey: `tenants/${principal.tenantId}/extensions/${result.extensionId}/${archiveHash.replace(':', '/')}/bundle.tar.zst`,
          warnings: result.warnings,
        };
      },
    );
  });

  app.post<{ Body: { registryId: string; version: string } }>(
    '/api/v1/extensions/install',
    { schema: { body: InstallBody } },
    async (request, reply) => {
      const { registryId, version } = request.body;
      const { install } = await deps.installs.install(apiActor(request), { extensionId: registryId, version });
      return reply.code(202).send({
        data: {
          registryId,
          version: install.version,
          installId: install.id,
          success: true,
          message: 'Extension installation enqueued',
          install: installInfo(install),
        },
      });
    },
  );

  app.post<{ Body: { registryId: string } }>(
    '/api/v1/extensions/uninstall',
    { schema: { body: UninstallBody } },
    async (request) => {
      const { registryId } = request.body;
      const actor = apiActor(request);
      await deps.installs.uninstall(actor, await deps.installs.get(actor.tenantId, registryId));
      return { data: { registryId, success: true, message: 'Extension uninstalled' } };
    },
  );

  app.post<{ Body: { registryId: string; version: string } }>(
    '/api/v1/extensions/update',
    { schema: { body: UpdateBody } },
    async (request) => {
      const { registryId, version } = request.body;
      const actor = apiActor(request);
      // Only an existing install is updated (404 otherwise), as the reference does.
      await deps.installs.get(actor.tenantId, registryId);
      const { install } = await deps.installs.install(actor, { extensionId: registryId, version });
      return { data: { registryId, version: install.version, success: true, message: 'Extension updated' } };
    },
  );
}
