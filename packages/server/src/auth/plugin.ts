import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AlgaError } from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import { authenticate, requireAdmin, type Principal } from './api-keys.ts';

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
    request.principal = await authenticate(db, request.headers.authorization);
    if (!READ_METHODS.has(request.method)) requireAdmin(request.principal);
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AlgaError('ALGA_UNAUTHENTICATED');
  return request.principal;
}
