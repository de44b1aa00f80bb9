/**
 * The runner's HTTP surface (protocol's `RUNNER_ROUTES`): `POST /v1/execute`,
 * `POST /v1/prepare`, `GET /healthz`, `GET /readyz`, `GET /metrics`. Request
 * bodies are validated against protocol's schemas, and every error leaves
 * through protocol's one error plugin.
 */
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { PrepareRequestSchema, RUNNER_ROUTES, RUNNER_SCOPES, type PrepareResponse } from '@alga-psa/protocol';
import { algaClientErrorHandler, algaErrors, RequestLog } from '@alga-psa/protocol/fastify';
import type { Tracing } from '@alga-psa/protocol/tracing';
import type { ServiceClaims, ServiceTokenVerifier } from '@alga-psa/service-auth';
import { verifyServiceToken } from './auth.ts';
import type { Engine } from './engine/index.ts';
import { executeRoute } from './execute-route.ts';
import type { RunnerMetrics } from './metrics.ts';
import { readiness, type ReadinessCheck } from './readiness.ts';
import type { BundleTrust } from './trust.ts';

export interface AppOptions {
  engine: Engine;
  logger: Logger;
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

/** The route Fastify would match for `/v1/execute` (a query string allowed, nothing else). */
function isExecutePath(url: string | undefined): boolean {
  return url === RUNNER_ROUTES.execute || (url?.startsWith(`${RUNNER_ROUTES.execute}?`) ?? false);
}

/** Fastify's request ids (`req-1`, `req-2`, …), one sequence for both the app and the execute route. */
function requestIds(): () => string {
  let next = 0;
  return () => {
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { engine } = options;
  const nextRequestId = requestIds();
  const execute = executeRoute({ ...options, nextRequestId });
  const app = Fastify({
    loggerInstance: options.logger,
    // A request Node's parser refuses still gets the registry's body.
    clientErrorHandler: algaClientErrorHandler,
    bodyLimit: options.bodyLimit,
    genReqId: nextRequestId,
    // The hot route never enters Fastify: node:http hands it to the hand-written
    // handler (execute-route.ts), every other request to Fastify's router.
    serverFactory: (fastify, settings) => {
      const server = createServer((req, res) => {
        if (req.method !== 'POST' || !isExecutePath(req.url)) return fastify(req, res);
        // serve answers every error itself; this is for a failure while answering (never a crash).
        execute.serve(req, res).catch((error: unknown) => {
          options.logger.error({ err: error }, 'request errored');
          res.destroy();
        });
      });
      // What Fastify sets on a server it creates itself (its defaults filled in by now).
      const timeouts = settings as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number };
      server.keepAliveTimeout = timeouts.keepAliveTimeout;
      server.requestTimeout = timeouts.requestTimeout;
      server.setTimeout(timeouts.connectionTimeout);
      return server;
    },
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

  // Reached only through Fastify's own entry (`inject`, in tests and `alga test`): the same handler.
  app.post(RUNNER_ROUTES.execute, {
    onRequest: async (request, reply) => {
      reply.hijack();
      await execute.serve(request.raw, reply.raw, request.log as Logger);
    },
    handler: async () => undefined,
  });
  app.addHook('preClose', async () => execute.close());

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
