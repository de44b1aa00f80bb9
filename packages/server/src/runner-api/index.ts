/**
 * The API runners call back into while executing a guest: the install's
 * key-value storage and the shipping of guest log lines. Registered under
 * `/api/internal/ext-runner`; every route takes an `alga-server` service
 * token and acts on the install named in that token, nothing else.
 *
 * `installLogRoutes` is the tenant-facing read side of the logs, registered
 * inside the API-key-authenticated scope.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { AlgaError } from '@alga-psa/protocol';
import type { ServiceTokenVerifier } from '@alga-psa/service-auth';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import { requireAdmin } from '../auth/api-keys.ts';
import { findInstall } from '../data/installs.ts';
import { authenticateRunner } from './auth.ts';
import {
  appendLogs,
  DEFAULT_LOG_RETENTION,
  LOG_LEVELS,
  MAX_LOG_BATCH,
  MAX_LOG_LINE_CHARS,
  readLogs,
  type GuestLogLine,
} from './logs.ts';
import {
  checkKey,
  checkNamespace,
  DEFAULT_STORAGE_QUOTAS,
  deleteEntry,
  getEntry,
  listPage,
  MAX_PAGE_LIMIT,
  putEntry,
  type StorageQuotas,
  type StoredEntry,
} from './storage.ts';

export { DEFAULT_STORAGE_QUOTAS, type StorageQuotas } from './storage.ts';
export { DEFAULT_LOG_RETENTION } from './logs.ts';

export const RUNNER_API_PREFIX = '/api/internal/ext-runner';

export interface RunnerApiOptions {
  db: Db;
  /** Verifies `alga-server` service tokens. Without it every call answers 401 (nothing can be trusted). */
  verifier?: ServiceTokenVerifier | undefined;
  quotas?: Partial<StorageQuotas> | undefined;
  /** Guest log lines kept per install (default 1000). */
  logRetention?: number | undefined;
}

/**
 * Picks this plugin's settings out of `createServer`'s options. Read
 * defensively: `serviceVerifier` is declared on `ServerOptions` by whoever
 * wires the signing key, and the quota knobs are optional embedder settings.
 */
export function runnerApiOptionsFrom(serverOptions: object): Omit<RunnerApiOptions, 'db'> {
  const given = serverOptions as {
    serviceVerifier?: ServiceTokenVerifier;
    storageQuotas?: Partial<StorageQuotas>;
    installLogRetention?: number;
  };
  return {
    verifier: given.serviceVerifier,
    quotas: given.storageQuotas,
    logRetention: given.installLogRetention,
  };
}

const REVISION = { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' } as const;
// Strict base64: Buffer.from(…, 'base64') would silently skip garbage.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function entryView(entry: StoredEntry) {
  return {
    namespace: entry.namespace,
    key: entry.key,
    value_b64: entry.value.toString('base64'),
    revision: entry.revision,
    expires_at: entry.expiresAt?.toISOString() ?? null,
  };
}

const NOT_FOUND = () => new AlgaError('ALGA_NOT_FOUND', 'No entry with this namespace and key.');

export const runnerApi: FastifyPluginAsync<RunnerApiOptions> = async (app, options) => {
  const { db, verifier } = options;
  const quotas: StorageQuotas = { ...DEFAULT_STORAGE_QUOTAS, ...options.quotas };
  const retain = options.logRetention ?? DEFAULT_LOG_RETENTION;
  // Room for the base64 of the largest value plus the JSON around it.
  const putBodyLimit = Math.ceil(quotas.maxValueBytes / 3) * 4 + 64 * 1024;

  /** Decoded from the wildcard so keys may hold "/" (sent as %2F) and exceed find-my-way's param length. */
  const keyParams = (params: { namespace: string; '*': string }) => {
    checkNamespace(params.namespace);
    checkKey(params['*']);
    return { namespace: params.namespace, key: params['*'] };
  };

  app.get<{ Params: { namespace: string; '*': string } }>('/storage/:namespace/*', async (request) => {
    const { installId } = await authenticateRunner(db, verifier, request, 'storage');
    const { namespace, key } = keyParams(request.params);
    const entry = await getEntry(db, installId, namespace, key);
    if (!entry) throw NOT_FOUND();
    return entryView(entry);
  });

  app.put<{
    Params: { namespace: string; '*': string };
    Body: { value_b64: string; expected_revision?: string | null; ttl_seconds?: number };
  }>(
    '/storage/:namespace/*',
    {
      bodyLimit: putBodyLimit,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['value_b64'],
          properties: {
            value_b64: { type: 'string' },
            expected_revision: { anyOf: [REVISION, { type: 'null' }] },
            ttl_seconds: { type: 'integer', minimum: 1, maximum: 10 * 365 * 24 * 3600 },
          },
        },
      },
    },
    async (request, reply) => {
      const { installId } = await authenticateRunner(db, verifier, request, 'storage');
      const { namespace, key } = keyParams(request.params);
      const { value_b64: valueB64, expected_revision: expected, ttl_seconds: ttlSeconds } = request.body;
      if (!BASE64_RE.test(valueB64)) {
        throw new AlgaError('ALGA_VALIDATION_FAILED', 'value_b64 must be standard base64 with padding.', {
          details: [{ field: 'body.value_b64', message: 'is not base64' }],
        });
      }
      const result = await putEntry(db, installId, quotas, {
        namespace,
        key,
        value: Buffer.from(valueB64, 'base64'),
        expected,
        ttlSeconds,
      });
      return reply.code(result.created ? 201 : 200).send({
        namespace,
        key,
        revision: result.revision,
        expires_at: result.expiresAt?.toISOString() ?? null,
      });
    },
  );

  app.delete<{ Params: { namespace: string; '*': string }; Querystring: { expected_revision?: string } }>(
    '/storage/:namespace/*',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { expected_revision: REVISION },
        },
      },
    },
    async (request, reply) => {
      const { installId } = await authenticateRunner(db, verifier, request, 'storage');
      const { namespace, key } = keyParams(request.params);
      const deleted = await deleteEntry(db, installId, { namespace, key, expected: request.query.expected_revision });
      if (!deleted) throw NOT_FOUND();
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { namespace: string }; Querystring: { cursor?: string; limit?: string } }>(
    '/storage/:namespace',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            cursor: { type: 'string', maxLength: 2048 },
            // Strings: the server's Ajv never coerces types.
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
          },
        },
      },
    },
    async (request) => {
      const { installId } = await authenticateRunner(db, verifier, request, 'storage');
      checkNamespace(request.params.namespace);
      const limit = request.query.limit === undefined ? undefined : Number(request.query.limit);
      if (limit !== undefined && limit > MAX_PAGE_LIMIT) {
        throw new AlgaError('ALGA_VALIDATION_FAILED', `limit may be at most ${MAX_PAGE_LIMIT}.`);
      }
      const page = await listPage(db, installId, request.params.namespace, {
        cursor: request.query.cursor || undefined,
        limit,
      });
      return { entries: page.entries.map(entryView), next_cursor: page.nextCursor };
    },
  );

  app.post<{ Body: { lines: GuestLogLine[] } }>(
    '/logs',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['lines'],
          properties: {
            lines: {
              type: 'array',
              maxItems: MAX_LOG_BATCH,
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['level', 'message', 'at'],
                properties: {
                  level: { enum: [...LOG_LEVELS] },
                  message: { type: 'string', maxLength: MAX_LOG_LINE_CHARS },
                  at: { type: 'string', maxLength: 64 },
                  request_id: { anyOf: [{ type: 'string', maxLength: 128 }, { type: 'null' }] },
                },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { installId } = await authenticateRunner(db, verifier, request, 'logs');
      const accepted = await appendLogs(db, installId, request.body.lines, retain);
      return reply.code(202).send({ accepted });
    },
  );
};

/** `GET /api/v1/installs/:extensionId/logs`: an install's recent guest logs, for the tenant's admins. */
export function installLogRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.get<{ Params: { extensionId: string }; Querystring: { limit?: string; after?: string } }>(
    '/api/v1/installs/:extensionId/logs',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
            after: { type: 'string', pattern: '^[0-9]{1,18}$' },
          },
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // Guest lines may quote customer data; viewers see the install, not its logs.
      requireAdmin(principal);
      const install = await findInstall(deps.db, principal.tenantId, request.params.extensionId);
      if (!install) {
        // Same answer whether the extension is unknown or another tenant's.
        throw new AlgaError(
          'ALGA_NOT_FOUND',
          `Extension "${request.params.extensionId}" is not installed for this tenant.`,
        );
      }
      const limit = Math.min(Number(request.query.limit ?? 100), 1000);
      const lines = await readLogs(deps.db, install.id, { limit, after: request.query.after });
      return { lines, nextAfter: lines.at(-1)?.id ?? request.query.after ?? null };
    },
  );
}
