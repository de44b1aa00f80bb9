import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/index.ts';
import { credentialsMissing, tenantHeaderMismatch } from '../errors.ts';
import { authenticateApiKey, requireAdmin, type Principal } from './api-keys.ts';
import { tenantName } from './session.ts';

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
    // The reference CLI names a tenant (--tenant / ALGA_TENANT_ID → x-tenant-id); the key decides
    // the tenant here, so a header naming another one is refused rather than silently ignored.
    const tenantHeader = request.headers['x-tenant-id'];
    if (request.principal && typeof tenantHeader === 'string' && tenantHeader.trim() !== '') {
      const given = tenantHeader.trim();
      // The key's tenant by id (any case, as UUIDs are) or by name.
      const own =
        given.toLowerCase() === request.principal.tenantId.toLowerCase() ||
        given === (await tenantName(db, request.principal.tenantId));
      if (!own) throw tenantHeaderMismatch({ given: given.slice(0, 80) });
    }
    if (!READ_METHODS.has(request.method)) requireAdmin(request.principal);
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw credentialsMissing();
  return request.principal;
}
