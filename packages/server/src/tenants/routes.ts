/**
 * The operator's tenant and user API, under `/api/v1/operator/` and behind
 * the operator key (registered in the operator scope, see server.ts):
 *
 * - `GET  /api/v1/operator/tenants` every tenant, by name
 * - `POST /api/v1/operator/tenants` `{name}` → 201 with the tenant's first admin API key, shown once
 * - `GET  /api/v1/operator/tenants/:tenant/users` the tenant's web users (`:tenant` is an id or a name)
 * - `POST /api/v1/operator/tenants/:tenant/users` `{email, role, name?, clientId?, password?}` → 201
 * - `POST /api/v1/operator/tenants/:tenant/api-keys` `{name, role}` → 201 with the key, answered once
 *   (for a tenant that lost its admin keys; its admins manage keys themselves under `/api/v1/api-keys`)
 */
import type { FastifyInstance } from 'fastify';
import {
  CreateApiKeyRequestSchema,
  CreateTenantRequestSchema,
  type ApiKeyCreated,
  type CreateApiKeyRequest,
  CreateUserRequestSchema,
  type CreateTenantRequest,
  type CreateUserRequest,
  type TenantCreated,
  type TenantList,
  type UserCreated,
  type UserList,
} from '@alga-psa/protocol';
import { issueApiKey } from '../auth/key-service.ts';
import type { Db } from '../db/index.ts';
import { operatorOf } from '../policy/operator.ts';
import { OPERATOR_PREFIX } from '../policy/routes.ts';
import { addUser, createTenant, findTenant, listTenants, listUsers } from './service.ts';

const tenantParams = {
  type: 'object',
  properties: { tenant: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export function tenantRoutes(app: FastifyInstance, deps: { db: Db }): void {
  app.get(`${OPERATOR_PREFIX}/tenants`, async (): Promise<TenantList> => ({ tenants: await listTenants(deps.db) }));

  app.post<{ Body: CreateTenantRequest }>(
    `${OPERATOR_PREFIX}/tenants`,
    { schema: { body: CreateTenantRequestSchema } },
    async (request, reply): Promise<TenantCreated> => {
      const created = await createTenant(deps.db, { ...operatorOf(request), requestId: request.id }, request.body);
      request.log.info({ tenant_id: created.tenant.id, key_id: created.keyId }, 'tenant created');
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: { tenant: string } }>(
    `${OPERATOR_PREFIX}/tenants/:tenant/users`,
    { schema: { params: tenantParams } },
    async (request): Promise<UserList> => listUsers(deps.db, request.params.tenant),
  );

  app.post<{ Params: { tenant: string }; Body: CreateUserRequest }>(
    `${OPERATOR_PREFIX}/tenants/:tenant/users`,
    { schema: { params: tenantParams, body: CreateUserRequestSchema } },
    async (request, reply): Promise<UserCreated> => {
      const who = { ...operatorOf(request), requestId: request.id };
      const created = await addUser(deps.db, who, request.params.tenant, request.body);
      request.log.info(
        { tenant_id: created.tenant.id, user_id: created.user.id, role: created.user.role },
        'user added',
      );
      return reply.code(201).send(created);
    },
  );

  app.post<{ Params: { tenant: string }; Body: CreateApiKeyRequest }>(
    `${OPERATOR_PREFIX}/tenants/:tenant/api-keys`,
    { schema: { params: tenantParams, body: CreateApiKeyRequestSchema } },
    async (request, reply): Promise<ApiKeyCreated> => {
      const tenant = await findTenant(deps.db, request.params.tenant);
      const who = { ...operatorOf(request), requestId: request.id };
      const created = await issueApiKey(deps.db, who, tenant.id, request.body);
      request.log.info({ tenant_id: tenant.id, key_id: created.key.id }, 'api key issued by the operator');
      return reply.code(201).send(created);
    },
  );
}
