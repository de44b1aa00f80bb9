/**
 * The one place an error becomes an HTTP response, for every Fastify app of
 * the platform (server and runner): whatever threw — a route, the body
 * parser, schema validation, a bug — the client gets `AlgaError.toBody()`
 * with the registry's status. Kept out of the package's main entry so that
 * importing `@alga-psa/protocol` (the browser UI does) never pulls Fastify in.
 */
import type { FastifyError, FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AlgaError } from './errors.ts';

/** Maps anything thrown inside a request to the error registry. */
export function toAlgaError(error: unknown): AlgaError {
  if (error instanceof AlgaError) return error;
  const fastifyError = error as Partial<FastifyError> & Error;
  if (fastifyError.validation) {
    const context = fastifyError.validationContext ?? 'body';
    const details = fastifyError.validation.map((issue) => ({
      field: `${context}${issue.instancePath.replace(/\//g, '.')}`,
      message: issue.message ?? 'is invalid',
    }));
    return new AlgaError(
      'ALGA_VALIDATION_FAILED',
      `The ${context} is invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}.`,
      { details },
    );
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AlgaError('ALGA_PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AlgaError('ALGA_BAD_REQUEST', `Unsupported Content-Type: ${fastifyError.message}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AlgaError('ALGA_BAD_REQUEST', 'The body is not valid JSON.');
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new AlgaError('ALGA_BAD_REQUEST', fastifyError.message);
  }
  return new AlgaError('ALGA_INTERNAL', undefined, { cause: error });
}

export interface AlgaErrorsOptions {
  /** The id an error body names (default: Fastify's `request.id`). */
  requestId?(request: FastifyRequest): string | undefined;
}

function register(app: FastifyInstance, options: AlgaErrorsOptions, done: (error?: Error) => void): void {
  const requestId = options.requestId ?? ((request: FastifyRequest) => request.id);
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
export const algaErrors: FastifyPluginCallback<AlgaErrorsOptions> = fp(register, {
  fastify: '5.x',
  name: 'alga-errors',
});
