/**
 * The runner's HTTP surface (protocol's `RUNNER_ROUTES`): `POST /v1/execute`,
 * `POST /v1/prepare`, `GET /healthz`, `GET /readyz`, `GET /metrics`. Request
 * bodies are validated against protocol's schemas, and every error leaves
 * through protocol's one error plugin.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  AlgaError,
  ExecuteRequestSchema,
  isCapability,
  PrepareRequestSchema,
  RUNNER_ROUTES,
  RUNNER_SCOPES,
  type PrepareResponse,
} from '@alga-psa/protocol';
import { algaErrors, RequestLog } from '@alga-psa/protocol/fastify';
import { endSpan, type Tracing } from '@alga-psa/protocol/tracing';
import type { ServiceClaims, ServiceTokenVerifier } from '@alga-psa/service-auth';
import { authorize, verifyServiceToken } from './auth.ts';
import type { Engine } from './engine/index.ts';
import { errors } from './errors.ts';
import type { RunnerMetrics } from './metrics.ts';
import { readiness, type ReadinessCheck } from './readiness.ts';
import type { BundleTrust } from './trust.ts';

export interface AppOptions {
  engine: Engine;
  logger: FastifyBaseLogger;
  /** Largest accepted request body in bytes. */
  bodyLimit: number;
  /** Checks the `alga-runner` service token on every execute and prepare request. */
  verifier: ServiceTokenVerifier;
  readiness: readonly ReadinessCheck[];
  metrics: RunnerMetrics;
  /** The runner's own publisher-signature check, before a bundle is compiled; absent: none. */
  trust?: BundleTrust | undefined;
  /** A server span per execution, continuing the gateway's `traceparent`; absent: off. */
  tracing?: Tracing | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    serviceClaims?: ServiceClaims;
  }
}

/** Error bodies name the execution's request id, which the gateway also logs. */
function requestIdOf(request: FastifyRequest): string | undefined {
  const body = request.body as { context?: { request_id?: unknown } } | undefined;
  const id = body?.context?.request_id;
  return typeof id === 'string' && id ? id : undefined;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { engine, tracing } = options;
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit,
    // Probes, scrapes and served requests at debug: the gateway writes the access line (same request id).
    logController: new RequestLog({ served: 'debug' }),
    // Validate exactly what was sent: no coercion of `123` into `"123"`.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  void app.register(algaErrors, { requestId: requestIdOf });

  app.get(RUNNER_ROUTES.health, async () => ({ status: 'ok' }));

  app.get(RUNNER_ROUTES.ready, async (_request, reply) => {
    const state = await readiness(options.readiness);
    return reply.status(state.status === 'unavailable' ? 503 : 200).send(state);
  });

  app.get(RUNNER_ROUTES.metrics, async (_request, reply) => {
    const { registry } = options.metrics;
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });

  app.post(
    RUNNER_ROUTES.execute,
    {
      schema: { body: ExecuteRequestSchema },
      // Before the body is even read: an unauthenticated caller costs no parsing.
      onRequest: async (request) => {
        request.serviceClaims = await verifyServiceToken(options.verifier, request, RUNNER_SCOPES.execute);
      },
    },
    async (request) => {
      const execute = request.body;
      authorize(request.serviceClaims!, execute);
      const unknown = execute.providers.filter((id) => !isCapability(id));
      if (unknown.length > 0) throw errors.unknownCapability({ ids: unknown.join(', ') }, { details: { unknown } });
      options.trust?.check(execute.context.tenant_id, execute.context.content_hash, execute.bundle_signature);
      if (!tracing) return engine.execute(execute, request.log);
      const span = tracing.start(`POST ${RUNNER_ROUTES.execute}`, {
        kind: 'server',
        parent: tracing.extract(request.headers),
        attributes: {
          'http.request.method': 'POST',
          'http.route': RUNNER_ROUTES.execute,
          'alga.request_id': execute.context.request_id,
          'alga.tenant_id': execute.context.tenant_id,
          'alga.install_id': execute.context.install_id,
        },
      });
      try {
        const response = await engine.execute(execute, request.log, span);
        endSpan(span);
        return response;
      } catch (error) {
        endSpan(span, { code: error instanceof AlgaError ? error.code : 'ALGA_INTERNAL' });
        throw error;
      }
    },
  );

  // Deploy-time preparation: transpiling and compiling a new bundle costs
  // about half a second, which would otherwise land on its first request.
  app.post(
    RUNNER_ROUTES.prepare,
    {
      schema: { body: PrepareRequestSchema },
      onRequest: async (request) => {
        request.serviceClaims = await verifyServiceToken(options.verifier, request, RUNNER_SCOPES.prepare);
      },
    },
    async (request): Promise<PrepareResponse> => {
      const started = performance.now();
      // The token names the tenant the bundle is prepared for.
      options.trust?.check(request.serviceClaims!.tenantId, request.body.content_hash, request.body.bundle_signature);
      await engine.prepare(request.body.content_hash, request.body.memory_mb);
      return {
        status: 'prepared',
        content_hash: request.body.content_hash,
        ms: Math.round(performance.now() - started),
      };
    },
  );

  return app as unknown as FastifyInstance;
}
