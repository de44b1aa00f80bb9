/**
 * The one place an error becomes an HTTP response: every error body is
 * `AlgaError.toBody(requestId)`, whatever threw it (a route, Fastify's body
 * parser, schema validation, or a bug).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { AlgaError } from '@alga-psa/protocol';

export function toAlgaError(error: FastifyError | Error): AlgaError {
  if (error instanceof AlgaError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const details = fastifyError.validation.map((issue) => ({
      field: `${fastifyError.validationContext ?? 'body'}${issue.instancePath.replace(/\//g, '.')}`,
      message: issue.message ?? 'is invalid',
    }));
    return new AlgaError(
      'ALGA_VALIDATION_FAILED',
      `The ${fastifyError.validationContext ?? 'request'} is invalid: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}.`,
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

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const alga = toAlgaError(error);
    if (alga.status >= 500) {
      // Log the cause server-side only; the client gets the registry message.
      request.log.error({ err: alga.cause ?? alga, code: alga.code }, 'request failed');
    }
    return reply
      .code(alga.status)
      .header('content-type', 'application/json; charset=utf-8')
      .send(alga.toBody(request.id));
  });
  app.setNotFoundHandler((request, reply) => {
    const alga = new AlgaError('ALGA_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`);
    return reply.code(alga.status).send(alga.toBody(request.id));
  });
}
