/**
 * The runner's HTTP surface: `GET /healthz`, `GET /readyz`, `GET /metrics`
 * and `POST /v1/execute`. Errors of every kind leave through ONE handler that
 * maps them to the protocol's error registry; anything unexpected becomes a
 * detail-free 500.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { AlgaError, isCapability, type ExecuteRequest } from '@alga-psa/protocol';
import type { ServiceClaims, ServiceTokenVerifier } from '@alga-psa/service-auth';
import { PREPARE_SCOPE, authenticate, authorize } from './auth.ts';
import type { Engine } from './engine/index.ts';
import type { RunnerMetrics } from './metrics.ts';
import { readiness, type ReadinessCheck } from './readiness.ts';
import { executeRequestSchema } from './schema.ts';

export interface AppOptions {
  engine: Engine;
  logger: FastifyBaseLogger;
  /** Largest accepted request body in bytes. */
  bodyLimit: number;
  /** Checks the `alga-runner` service token on every execute request. */
  verifier: ServiceTokenVerifier;
  readiness: readonly ReadinessCheck[];
  metrics: RunnerMetrics;
}

declare module 'fastify' {
  interface FastifyRequest {
    serviceClaims?: ServiceClaims;
  }
}

function requestIdOf(request: FastifyRequest): string | undefined {
  const body = request.body as { context?: { request_id?: unknown } } | undefined;
  const id = body?.context?.request_id;
  return typeof id === 'string' && id ? id : undefined;
}

function toAlgaError(error: FastifyError | Error): AlgaError {
  if (error instanceof AlgaError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    return new AlgaError('ALGA_BAD_REQUEST', `The execute request is malformed: ${fastifyError.message}.`, {
      details: fastifyError.validation.map((issue) => ({ path: issue.instancePath, message: issue.message })),
    });
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AlgaError('ALGA_PAYLOAD_TOO_LARGE');
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    // Bad JSON, wrong content type, empty body: the client's fault, no detail needed.
    return new AlgaError('ALGA_BAD_REQUEST');
  }
  return new AlgaError('ALGA_INTERNAL');
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { engine } = options;
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit,
    // Validate exactly what was sent: no coercion of `123` into `"123"`.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const alga = toAlgaError(error);
    if (alga.code === 'ALGA_INTERNAL') request.log.error({ err: error }, 'unexpected error');
    void reply.status(alga.status).send(alga.toBody(requestIdOf(request)));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(new AlgaError('ALGA_NOT_FOUND').toBody());
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const state = await readiness(options.readiness);
    return reply.status(state.status === 'unavailable' ? 503 : 200).send(state);
  });

  app.get('/metrics', async (_request, reply) => {
    const { registry } = options.metrics;
    return reply.header('content-type', registry.contentType).send(await registry.metrics());
  });

  app.post<{ Body: ExecuteRequest }>(
    '/v1/execute',
    {
      schema: { body: executeRequestSchema },
      // Before the body is even read: an unauthenticated caller costs no parsing.
      onRequest: async (request) => {
        request.serviceClaims = await authenticate(options.verifier, request);
      },
    },
    async (request) => {
      const execute = request.body;
      authorize(request.serviceClaims!, execute);
      const unknown = execute.providers.filter((id) => !isCapability(id));
      if (unknown.length > 0) {
        throw new AlgaError('ALGA_UNKNOWN_CAPABILITY', `Unknown capability id: ${unknown.join(', ')}.`, {
          details: { unknown },
        });
      }
      return engine.execute(execute, request.log);
    },
  );

  // Deploy-time preparation: transpiling and compiling a new bundle costs
  // about half a second, which would otherwise land on its first request.
  app.post<{ Body: { content_hash: string; memory_mb?: number } }>(
    '/v1/prepare',
    {
      schema: {
        body: {
          type: 'object',
          required: ['content_hash'],
          additionalProperties: false,
          properties: {
            content_hash: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
            memory_mb: { type: 'integer', minimum: 1 },
          },
        },
      },
      onRequest: async (request) => {
        request.serviceClaims = await authenticate(options.verifier, request, PREPARE_SCOPE);
      },
    },
    async (request) => {
      const started = performance.now();
      await engine.prepare(request.body.content_hash, request.body.memory_mb);
      return {
        status: 'prepared',
        content_hash: request.body.content_hash,
        ms: Math.round(performance.now() - started),
      };
    },
  );

  return app;
}
