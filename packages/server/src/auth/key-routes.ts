/**
 * A tenant's API keys, for its admins (any route here needs an admin key):
 *
 * - `GET    /api/v1/api-keys` every key, newest first, revoked ones included (never a secret)
 * - `POST   /api/v1/api-keys` `{name, role}` → 201 with the whole key, answered once
 * - `DELETE /api/v1/api-keys/:keyId` revoke (idempotent; the last active admin key is refused)
 */
import type { FastifyInstance } from 'fastify';
import {
  CreateApiKeyRequestSchema,
  type ApiKeyCreated,
  type ApiKeyInfo,
  type ApiKeyList,
  type CreateApiKeyRequest,
} from '@alga-psa/protocol';
import type { Db } from '../db/index.ts';
import { requireAdmin } from './api-keys.ts';
import { issueApiKey, listApiKeys, revokeApiKey } from './key-service.ts';
import { principalOf } from './plugin.ts';

const keyParams = {
  type: 'object',
  properties: { keyId: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export function apiKeyRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.get('/api/v1/api-keys', async (request): Promise<ApiKeyList> => {
    const principal = principalOf(request);
    requireAdmin(principal);
    return { keys: await listApiKeys(deps.db, principal.tenantId) };
  });

  app.post<{ Body: CreateApiKeyRequest }>(
    '/api/v1/api-keys',
    { schema: { body: CreateApiKeyRequestSchema } },
    async (request, reply): Promise<ApiKeyCreated> => {
      const principal = principalOf(request);
      const who = { actor: principal.actor, requestId: request.id };
      const created = await issueApiKey(deps.db, who, principal.tenantId, request.body);
      return reply.code(201).send(created);
    },
  );

  app.delete<{ Params: { keyId: string } }>(
    '/api/v1/api-keys/:keyId',
    { schema: { params: keyParams } },
    async (request): Promise<ApiKeyInfo> => {
      const principal = principalOf(request);
      const who = { actor: principal.actor, requestId: request.id };
      return revokeApiKey(deps.db, who, principal.tenantId, request.params.keyId);
    },
  );
}
