/**
 * `POST /v1/execute`, hand-written on `node:http`: Fastify's per-request work
 * (routing, hooks, request and reply objects, body parser, reply pipeline)
 * was a third of the runner's main thread on the hot route
 * (docs/perf/034-request-path.md, 038-runner-execute-path.md). Every check of
 * the Fastify route stays, in the same order and with the same answers: the
 * service token and its scope before the body is read, the body limit, JSON
 * with prototype-poisoning refused, protocol's schema (compiled once by
 * protocol's `compileBodyValidator`), the tenant/install binding, known
 * capabilities, the publisher signature; errors through protocol's registry
 * (`toAlgaError`, `toBody` with the execution's request id), 5xx causes
 * logged, one access line per request at the levels of protocol's
 * `RequestLog`, the server span when tracing is on. Metrics are the engine's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import sjson from 'secure-json-parse';
import type { Logger } from 'pino';
import { AlgaError, ExecuteRequestSchema, isCapability, RUNNER_SCOPES, type ExecuteRequest } from '@alga-psa/protocol';
import { compileBodyValidator, toAlgaError } from '@alga-psa/protocol/fastify';
import { endSpan, type Tracing } from '@alga-psa/protocol/tracing';
import type { ServiceTokenVerifier } from '@alga-psa/service-auth';
import { authorize, verifyServiceToken } from './auth.ts';
import type { Engine } from './engine/index.ts';
import { errors } from './errors.ts';
import type { BundleTrust } from './trust.ts';

export interface ExecuteRouteOptions {
  engine: Engine;
  /** The root logger; each request logs through a child with its `reqId`. */
  logger: Logger;
  bodyLimit: number;
  verifier: ServiceTokenVerifier;
  trust?: BundleTrust | undefined;
  tracing?: Tracing | undefined;
  /** Request ids shared with the Fastify app (`genReqId`), so other routes' ids never repeat these. */
  nextRequestId(): string;
}

export interface ExecuteRoute {
  /**
   * Answers one request. `fastifyLog`: it reached the route through Fastify
   * (as `inject` does), which names the request and writes its access line.
   */
  serve(req: IncomingMessage, res: ServerResponse, fastifyLog?: Logger): Promise<void>;
  /** From now on every request is refused with 503 (the runner is closing). */
  close(): void;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;
const RESPONSE_HEADERS = 'application/json; charset=utf-8';

export function executeRoute(options: ExecuteRouteOptions): ExecuteRoute {
  const { engine, tracing, verifier, bodyLimit } = options;
  const validate = compileBodyValidator(ExecuteRequestSchema);
  let closing = false;

  async function handle(req: IncomingMessage, log: Logger, body: { value?: unknown }): Promise<unknown> {
    // Before the body is even read: an unauthenticated caller costs no parsing.
    const claims = await verifyServiceToken(verifier, req, RUNNER_SCOPES.execute);
    body.value = parseJson(await readBody(req, bodyLimit), req.headers['content-type']);
    const invalid = validate(body.value);
    if (invalid) throw invalid;
    const execute = body.value as ExecuteRequest;
    authorize(claims, execute);
    const unknown = execute.providers.filter((id) => !isCapability(id));
    if (unknown.length > 0) throw errors.unknownCapability({ ids: unknown.join(', ') }, { details: { unknown } });
    options.trust?.check(execute.context.tenant_id, execute.context.content_hash, execute.bundle_signature);
    if (!tracing) return engine.execute(execute, log);
    const span = tracing.start(`POST /v1/execute`, {
      kind: 'server',
      parent: tracing.extract(req.headers),
      attributes: {
        'http.request.method': 'POST',
        'http.route': '/v1/execute',
        'alga.request_id': execute.context.request_id,
        'alga.tenant_id': execute.context.tenant_id,
        'alga.install_id': execute.context.install_id,
      },
    });
    try {
      const response = await engine.execute(execute, log, span);
      endSpan(span);
      return response;
    } catch (error) {
      endSpan(span, { code: error instanceof AlgaError ? error.code : 'ALGA_INTERNAL' });
      throw error;
    }
  }

  return {
    async serve(req, res, fastifyLog) {
      const started = performance.now();
      const log = fastifyLog ?? options.logger.child({ reqId: options.nextRequestId() });
      const body: { value?: unknown } = {};
      let status = 200;
      let payload: string;
      try {
        if (closing) throw errors.shuttingDown();
        payload = JSON.stringify(await handle(req, log, body));
      } catch (error) {
        const alga = toAlgaError(error);
        // The cause stays in our log; the client gets the registry's message.
        if (alga.status >= 500) log.error({ err: alga.cause ?? alga, code: alga.code }, 'request failed');
        status = alga.status;
        payload = JSON.stringify(alga.toBody(requestIdOf(body.value)));
      }
      res.writeHead(status, {
        'content-type': RESPONSE_HEADERS,
        'content-length': Buffer.byteLength(payload),
        ...(closing ? { connection: 'close' } : {}),
      });
      res.end(payload);
      if (fastifyLog) return;
      // protocol's RequestLog: served requests at debug (the gateway writes the access line), refusals at info.
      const level = status >= 400 ? 'info' : 'debug';
      if (!log.isLevelEnabled(level)) return;
      log[level](
        {
          req: {
            method: req.method,
            url: req.url,
            version: req.headers['accept-version'],
            host: req.headers.host,
            remoteAddress: req.socket?.remoteAddress,
            remotePort: req.socket?.remotePort,
          },
          res: { statusCode: status },
          responseTime: performance.now() - started,
        },
        'request completed',
      );
    },
    close() {
      closing = true;
    },
  };
}

/** Error bodies name the execution's request id, which the gateway also logs. */
function requestIdOf(body: unknown): string | undefined {
  const id = (body as { context?: { request_id?: unknown } } | undefined)?.context?.request_id;
  return typeof id === 'string' && id ? id : undefined;
}

/** Thrown with Fastify's codes, so `toAlgaError` answers exactly as it does for a Fastify route. */
function framework(code: string, message: string, statusCode: number): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

/** The body, refused past `limit` bytes: by its Content-Length before reading, then as it streams in. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (declared === undefined && !chunked) return undefined;
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > limit) {
    throw framework('FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large', 413);
  }
  if (length === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > limit) throw framework('FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large', 413);
      chunks.push(chunk);
    }
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 413) throw error;
    // A client that went away mid-body is the client's error (400), as Fastify's parser says it.
    throw Object.assign(error as Error, { statusCode: 400 });
  }
  if (length !== undefined && total !== length) {
    throw framework('FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'Request body size did not match Content-Length', 400);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/** JSON only, as Fastify's parser: `__proto__` and `constructor.prototype` keys are refused. */
function parseJson(raw: Buffer | undefined, contentType: string | undefined): unknown {
  // No Content-Type and no body: nothing to parse (the schema then refuses the missing body).
  if (contentType === undefined && (raw === undefined || raw.byteLength === 0)) return undefined;
  if (contentType === undefined || !JSON_TYPE.test(contentType)) {
    throw framework('FST_ERR_CTP_INVALID_MEDIA_TYPE', 'Unsupported Media Type', 415);
  }
  if (raw === undefined || raw.byteLength === 0) {
    throw framework(
      'FST_ERR_CTP_EMPTY_JSON_BODY',
      "Body cannot be empty when content-type is set to 'application/json'",
      400,
    );
  }
  try {
    return sjson.parse(raw.toString('utf8'), null, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw framework('FST_ERR_CTP_INVALID_JSON_BODY', 'Body is not valid JSON', 400);
  }
}
