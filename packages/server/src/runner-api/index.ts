/**
 * The API runners call back into while executing a guest: the install's
 * key-value storage and the shipping of guest log lines. Registered under
 * `RUNNER_API_PREFIX`; every route takes an `alga-server` service token and
 * acts on the install named in that token, nothing else. The wire contract
 * (schemas, paths, scopes) is `@alga-psa/protocol`'s, which the runner uses too.
 *
 * `installLogRoutes` is the tenant-facing read side of the logs, registered
 * inside the API-key-authenticated scope.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { endSpan, type Span, type Tracing } from '@alga-psa/protocol/tracing';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  LogBatchSchema,
  RUNNER_API_SCOPES,
  runnerApiPaths,
  StorageDeleteQuerySchema,
  StorageEntrySchema,
  StorageListQuerySchema,
  StoragePageSchema,
  StoragePutResultSchema,
  StoragePutSchema,
  type StorageEntryWire,
  type InstallLogsPage,
} from '@alga-psa/protocol';
import type { ServiceTokenVerifier } from '@alga-psa/service-auth';
import type { Db } from '../db/index.ts';
import { principalOf } from '../auth/plugin.ts';
import { requireAdmin } from '../auth/api-keys.ts';
import { entryNotFound, pageLimitTooHigh, valueNotBase64 } from '../errors.ts';
import type { InstallService } from '../installs/service.ts';
import type { InstallStore } from '../installs/store.ts';
import { authenticateRunner, type RunnerPrincipal } from './auth.ts';
import { appendLogs, DEFAULT_LOG_RETENTION, readLogs } from './logs.ts';
import {
  checkKey,
  checkNamespace,
  DEFAULT_STORAGE_QUOTAS,
  deleteEntry,
  getEntry,
  listPage,
  MAX_PAGE_LIMIT,
  putEntry,
  type KvRow,
  type StorageQuotas,
} from './storage.ts';

export { DEFAULT_STORAGE_QUOTAS, type StorageQuotas } from './storage.ts';
export { DEFAULT_LOG_RETENTION } from './logs.ts';

export interface RunnerApiOptions {
  db: Db;
  /** Where a token's install is looked up (it must still exist, be enabled and hold the capability). */
  installs: Pick<InstallStore, 'findById'>;
  /** Verifies `alga-server` service tokens. Without it every call answers 401 (nothing can be trusted). */
  verifier?: ServiceTokenVerifier | undefined;
  quotas?: Partial<StorageQuotas> | undefined;
  /** Guest log lines kept per install (default 1000). */
  logRetention?: number | undefined;
  /** A server span per authenticated runner call, continuing the runner's `traceparent`; absent: off. */
  tracing?: Tracing | undefined;
}

/**
 * Picks this plugin's settings out of `createServer`'s options. Read
 * defensively: `serviceVerifier` is declared on `ServerOptions` by whoever
 * wires the signing key, and the quota knobs are optional embedder settings.
 */
export function runnerApiOptionsFrom(serverOptions: object): Omit<RunnerApiOptions, 'db' | 'installs'> {
  const given = serverOptions as {
    serviceVerifier?: ServiceTokenVerifier;
    storageQuotas?: Partial<StorageQuotas>;
    installLogRetention?: number;
    tracing?: Tracing;
  };
  return {
    verifier: given.serviceVerifier,
    quotas: given.storageQuotas,
    logRetention: given.installLogRetention,
    tracing: given.tracing,
  };
}

// Strict base64: Buffer.from(…, 'base64') would silently skip garbage.
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function entryView(entry: KvRow): StorageEntryWire {
  return {
    namespace: entry.namespace,
    key: entry.key,
    value_b64: entry.value.toString('base64'),
    revision: entry.revision,
    expires_at: entry.expiresAt?.toISOString() ?? null,
  };
}

export const runnerApi: FastifyPluginAsync<RunnerApiOptions> = async (plain, options) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { db, verifier } = options;
  const quotas: StorageQuotas = { ...DEFAULT_STORAGE_QUOTAS, ...options.quotas };
  const retain = options.logRetention ?? DEFAULT_LOG_RETENTION;
  // Room for the base64 of the largest value plus the JSON around it.
  const putBodyLimit = Math.ceil(quotas.maxValueBytes / 3) * 4 + 64 * 1024;
  // The route patterns of `runnerApiPaths.namespace` and `.entry` (which build URLs for runners).
  const namespacePath = '/storage/:namespace';
  const entryPath = `${namespacePath}/*`;
  const namespaceParams = Type.Object({ namespace: Type.String() });
  // The key comes from the wildcard, so it may hold "/" (sent as %2F) and exceed find-my-way's param length.
  const entryParams = Type.Object({ namespace: Type.String(), '*': Type.String() });

  const traced = options.tracing ? traceRunnerCalls(app, options.tracing) : undefined;
  const callers = new WeakMap<FastifyRequest, RunnerPrincipal>();
  // An onRequest hook: the token is checked before the body is read or validated, so an
  // unauthenticated caller costs no parsing and learns nothing of the schemas (401, not 400).
  const authenticated = (scope: keyof typeof RUNNER_API_SCOPES) => async (request: FastifyRequest) => {
    const who = await authenticateRunner(options.installs, verifier, request, RUNNER_API_SCOPES[scope]);
    traced?.(request, who.installId);
    callers.set(request, who);
  };
  const caller = (request: FastifyRequest): RunnerPrincipal => {
    const who = callers.get(request);
    // Only a route registered without `authenticated` gets here.
    if (!who) throw new Error('runner API route without authentication');
    return who;
  };
  const keyParams = ({ namespace, '*': key }: { namespace: string; '*': string }) => {
    checkNamespace(namespace);
    checkKey(key);
    return { namespace, key };
  };

  const storage = authenticated('storage');

  app.get(
    entryPath,
    { onRequest: storage, schema: { params: entryParams, response: { 200: StorageEntrySchema } } },
    async (request) => {
      const { installId } = caller(request);
      const { namespace, key } = keyParams(request.params);
      const entry = await getEntry(db, installId, namespace, key);
      if (!entry) throw entryNotFound();
      return entryView(entry);
    },
  );

  app.put(
    entryPath,
    {
      onRequest: storage,
      bodyLimit: putBodyLimit,
      schema: {
        params: entryParams,
        body: StoragePutSchema,
        response: { 200: StoragePutResultSchema, 201: StoragePutResultSchema },
      },
    },
    async (request, reply) => {
      const { installId } = caller(request);
      const { namespace, key } = keyParams(request.params);
      const { value_b64: valueB64, expected_revision: expected, ttl_seconds: ttlSeconds } = request.body;
      if (!BASE64_RE.test(valueB64)) {
        throw valueNotBase64({ details: [{ field: 'body.value_b64', message: 'is not base64' }] });
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

  app.delete(
    entryPath,
    { onRequest: storage, schema: { params: entryParams, querystring: StorageDeleteQuerySchema } },
    async (request, reply) => {
      const { installId } = caller(request);
      const { namespace, key } = keyParams(request.params);
      const deleted = await deleteEntry(db, installId, { namespace, key, expected: request.query.expected_revision });
      if (!deleted) throw entryNotFound();
      return reply.code(204).send();
    },
  );

  app.get(
    namespacePath,
    {
      onRequest: storage,
      schema: { params: namespaceParams, querystring: StorageListQuerySchema, response: { 200: StoragePageSchema } },
    },
    async (request) => {
      const { installId } = caller(request);
      const { namespace } = request.params;
      checkNamespace(namespace);
      const limit = request.query.limit === undefined ? undefined : Number(request.query.limit);
      if (limit !== undefined && limit > MAX_PAGE_LIMIT) throw pageLimitTooHigh({ max: MAX_PAGE_LIMIT });
      const page = await listPage(db, installId, namespace, {
        cursor: request.query.cursor || undefined,
        limit,
      });
      return { entries: page.entries.map(entryView), next_cursor: page.nextCursor };
    },
  );

  app.post(
    runnerApiPaths.logs,
    { onRequest: authenticated('logs'), schema: { body: LogBatchSchema } },
    async (request, reply) => {
      const { installId } = caller(request);
      const accepted = await appendLogs(db, installId, request.body.lines, retain);
      return reply.code(202).send({ accepted });
    },
  );
};

/** `GET /api/v1/installs/:extensionId/logs`: an install's recent guest logs, for the tenant's admins. */
export function installLogRoutes(app: FastifyInstance, deps: { db: Db; installs: InstallService }): void {
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
    async (request): Promise<InstallLogsPage> => {
      const principal = principalOf(request);
      // Guest lines may quote customer data; viewers see the install, not its logs.
      requireAdmin(principal);
      // Same answer whether the extension is unknown or another tenant's.
      const install = await deps.installs.get(principal.tenantId, request.params.extensionId);
      const limit = Math.min(Number(request.query.limit ?? 100), 1000);
      const lines = await readLogs(deps.db, install.id, { limit, after: request.query.after });
      return { lines, nextAfter: lines.at(-1)?.id ?? request.query.after ?? null };
    },
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    /** This runner call's span, when tracing is on and the runner's token checked out. */
    runnerApiSpan: Span | undefined;
  }
}

/**
 * A server span for each runner API call that carries a `traceparent` (the
 * runner sends one with storage calls of a traced execution), made once the
 * runner's token has been verified: only then is the header followed,
 * so a caller without a runner token cannot join or steer a trace. A storage
 * call is then a child of the runner's client span inside `host storage.*`.
 * Attributes: method, route template, status, the install id; never a
 * namespace, key, value or log line. Returns the hook `caller` runs after auth.
 */
function traceRunnerCalls(
  app: FastifyInstance,
  tracing: Tracing,
): (request: FastifyRequest, installId: string) => void {
  app.decorateRequest('runnerApiSpan', undefined);
  app.addHook('onResponse', async (request, reply) => {
    const span = request.runnerApiSpan;
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    endSpan(span, reply.statusCode >= 500 ? { code: String(reply.statusCode) } : undefined);
  });
  return (request, installId) => {
    // Only calls made inside a traced execution: a log shipment (many executions' lines) starts no trace of its own.
    const parent = tracing.extract(request.headers);
    if (!parent) return;
    // The route as registered, the runner API prefix included.
    const route = request.routeOptions.url ?? request.method;
    request.runnerApiSpan = tracing.start(`${request.method} ${route}`, {
      kind: 'server',
      parent,
      attributes: { 'http.request.method': request.method, 'http.route': route, 'alga.install_id': installId },
    });
  };
}
