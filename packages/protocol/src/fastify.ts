/**
 * The one place an error becomes an HTTP response, for every Fastify app of
 * the platform (server and runner): whatever threw — a route, the body
 * parser, schema validation, a bug — the client gets `AlgaError.toBody()`
 * with the registry's status. Kept out of the package's main entry so that
 * importing `@alga-psa/protocol` (the browser UI does) never pulls Fastify in.
 */
import {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginCallback,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import fp from 'fastify-plugin';
import { Ajv, type ErrorObject } from 'ajv';
import type { TSchema } from 'typebox';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { clip } from './clip.ts';
import { AlgaError, type ErrorCode } from './errors.ts';

/**
 * Most schema problems one error lists; past it a last entry counts the
 * rest. With `allErrors`, a body of 100,000 wrong items fails 100,000 times,
 * and an answer listing each would be far larger than the request.
 */
export const MAX_VALIDATION_DETAILS = 10;
/** Longest field name (it may quote the client's own keys) and message of one listed problem. */
const MAX_FIELD_CHARS = 160;
const MAX_MESSAGE_CHARS = 240;

/** One listed problem: `{field, message}`; the last entry of a cut list also says how many were `omitted`. */
export interface ProblemDetail {
  field: string;
  message: string;
  omitted?: number;
}

/**
 * The first `MAX_VALIDATION_DETAILS` of `items` as problems, each clipped,
 * then (when there were more) `{field: summaryField, message: "…and N more
 * problems not listed", omitted: N}`. Only the listed items are turned into
 * text. For every answer that lists problems, so none grows with the input.
 */
export function boundedDetails<T>(
  items: readonly T[],
  toDetail: (item: T) => ProblemDetail,
  summaryField = '',
): ProblemDetail[] {
  const listed = items.slice(0, MAX_VALIDATION_DETAILS).map((item) => {
    const detail = toDetail(item);
    return { field: clip(detail.field, MAX_FIELD_CHARS), message: clip(detail.message, MAX_MESSAGE_CHARS) };
  });
  const omitted = items.length - listed.length;
  if (omitted <= 0) return listed;
  const message = `…and ${omitted} more problem${omitted === 1 ? '' : 's'} not listed`;
  return [...listed, { field: summaryField, message, omitted }];
}

/** A schema validation failure: the bounded problems, worded `<context>.<path> <message>` as ever. */
function validationFailed(context: string, issues: NonNullable<FastifyError['validation']>): AlgaError {
  const details = boundedDetails(
    issues,
    (issue) => ({
      field: `${context}${issue.instancePath.replace(/\//g, '.')}`,
      message: issue.message ?? 'is invalid',
    }),
    context,
  );
  const text = details.map((d) => (d.omitted === undefined ? `${d.field} ${d.message}` : d.message)).join('; ');
  return new AlgaError('ALGA_VALIDATION_FAILED', `The ${context} is invalid: ${text}.`, { details });
}

/**
 * A wire contract's body check for a route served outside Fastify (the
 * runner's hand-written `/v1/execute`): the same protocol schema, compiled
 * once by Ajv with the options a Fastify route's schema gets (no coercion,
 * nothing removed, first problem only), failing with the same
 * `ALGA_VALIDATION_FAILED` answer as a Fastify route.
 */
export function compileBodyValidator(schema: TSchema): (body: unknown) => AlgaError | undefined {
  const validate = new Ajv({
    coerceTypes: false,
    useDefaults: true,
    removeAdditional: false,
    addUsedSchema: false,
    allErrors: false,
  }).compile(schema);
  return (body) => (validate(body) ? undefined : validationFailed('body', validate.errors as ErrorObject[]));
}

/** Maps anything thrown inside a request to the error registry. */
export function toAlgaError(error: unknown): AlgaError {
  if (error instanceof AlgaError) return error;
  const fastifyError = error as Partial<FastifyError> & Error;
  if (fastifyError.validation)
    return validationFailed(fastifyError.validationContext ?? 'body', fastifyError.validation);
  switch (fastifyError.code) {
    // The router's own refusals (see `algaFrameworkErrors`); the URL is not quoted back.
    case 'FST_ERR_BAD_URL':
      return new AlgaError('ALGA_BAD_REQUEST', 'The URL is not valid: its path holds a %-escape that is not UTF-8.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AlgaError('ALGA_BAD_REQUEST', 'The URL is not valid: a segment of its path is too long.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AlgaError('ALGA_PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AlgaError('ALGA_UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // Fastify's parser and ours refuse __proto__ and constructor.prototype keys with the same code.
      return new AlgaError(
        'ALGA_BAD_REQUEST',
        'The body is not valid JSON, or holds a refused __proto__ or constructor.prototype key.',
      );
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new AlgaError('ALGA_BAD_REQUEST', fastifyError.message);
  }
  return new AlgaError('ALGA_INTERNAL', undefined, { cause: error });
}

/**
 * Fastify's `frameworkErrors` option: what the router refuses before any
 * route (or hook) runs — a path whose %-escapes are not UTF-8, a segment
 * longer than `maxParamLength` — answered like every other error instead of
 * with Fastify's own body (and a 414 for the long segment).
 */
export function algaFrameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const alga = toAlgaError(error);
  if (alga.status >= 500) request.log.error({ err: alga.cause ?? alga, code: alga.code }, 'request failed');
  void reply
    .code(alga.status)
    .header('x-request-id', request.id)
    .header('content-type', 'application/json; charset=utf-8')
    .send(alga.toBody(request.id));
}

export interface AlgaErrorsOptions {
  /** The id an error body names (default: Fastify's `request.id`). */
  requestId?(request: FastifyRequest): string | undefined;
}

function register(app: FastifyInstance, options: AlgaErrorsOptions, done: (error?: Error) => void): void {
  const requestId = options.requestId ?? ((request: FastifyRequest) => request.id);
  // Fastify's default formatter joins every problem into one message; the answer is
  // `toAlgaError`'s (bounded) anyway, so the error only names the first few.
  app.setSchemaErrorFormatter((issues, context) => new Error(validationFailed(context, issues).message));
  app.setErrorHandler((error: unknown, request, reply) => {
    const alga = toAlgaError(error);
    // The cause stays in our log; the client gets the registry's message.
    if (alga.status >= 500) request.log.error({ err: alga.cause ?? alga, code: alga.code }, 'request failed');
    return reply
      .code(alga.status)
      .header('content-type', 'application/json; charset=utf-8')
      .send(alga.toBody(requestId(request)));
  });
  app.setNotFoundHandler((request, reply) => {
    const alga = new AlgaError('ALGA_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`);
    return reply.code(alga.status).send(alga.toBody(requestId(request)));
  });
  done();
}

/** Registers the error and not-found handlers on the app it is registered in (not encapsulated). */
/**
 * Fastify's `clientErrorHandler`, for a request Node's HTTP parser refuses
 * before any route sees it (an unknown method, headers past the limit, a
 * malformed request line, a request not received in time): the registry's
 * body, as for every other error, then the connection is closed.
 */
export function algaClientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'ALGA_HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'ALGA_REQUEST_TIMEOUT'
        : 'ALGA_BAD_REQUEST';
  const alga = new AlgaError(code);
  const body = JSON.stringify(alga.toBody());
  // Not when a response on this connection has begun: its bytes would be corrupted.
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (socket.writable && !started) {
    socket.write(
      `HTTP/1.1 ${alga.status} ${STATUS_CODES[alga.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

export const algaErrors: FastifyPluginCallback<AlgaErrorsOptions> = fp(register, {
  fastify: '5.x',
  name: 'alga-errors',
});

/** Liveness, readiness and scrape paths: polled every few seconds by machines. */
const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

function isProbe(request: FastifyRequest): boolean {
  const url = request.url;
  const queryAt = url.indexOf('?');
  return PROBE_PATHS.has(queryAt === -1 ? url : url.slice(0, queryAt));
}

/**
 * The request log of both processes (pass as `logController`): one access
 * line per request (`request completed`, with method, URL, status and time)
 * instead of Fastify's two, since a log line is most of what a request
 * costs besides the work itself (docs/perf/034-request-path.md). Probes and
 * scrapes are at debug (they were half of a fresh runner's log); so is a
 * served request where `served` says so (the runner: the gateway writes the
 * access line with the same request id). Refused and failed requests stay
 * at info, and one that errored while responding at error.
 */
export class RequestLog extends LogController {
  readonly #served: 'info' | 'debug';

  constructor(options: { served?: 'info' | 'debug' } = {}) {
    super();
    this.#served = options.served ?? 'info';
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
      return;
    }
    const level = isProbe(request) ? 'debug' : reply.statusCode >= 400 ? 'info' : this.#served;
    reply.log[level]({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
