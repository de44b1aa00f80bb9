import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/index.ts';
import { credentialsMissing } from '../errors.ts';
import { authenticateApiKey, requireAdmin, type Principal } from './api-keys.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates every request of the scope it is registered in, and refuses
 * writes from viewer keys. Route handlers read `principalOf(request)`.
 */
export function registerAuth(app: FastifyInstance, db: Db): void {
  app.addHook('onRequest', async (request) => {
    // The reference host's CLI sends its key as `x-api-key`; the credential is the same API key.
    const apiKey = request.headers['x-api-key'];
    const authorization =
      request.headers.authorization ?? (typeof apiKey === 'string' && apiKey !== '' ? `Bearer ${apiKey}` : undefined);
    request.principal = await authenticateApiKey(db, authorization);
    if (!READ_METHODS.has(request.method)) requireAdmin(request.principal);
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw credentialsMissing();
  return request.principal;
}
