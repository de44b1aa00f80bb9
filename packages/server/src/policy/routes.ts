/**
 * The operator's provider-policy API, under `/api/v1/operator/` and behind
 * the operator key (operator.ts), never a tenant's credential:
 *
 * - `GET  /api/v1/operator/policy[?tenant=T]` the catalog: each capability, its global and per-tenant settings
 * - `PUT  /api/v1/operator/policy/:capability` `{enabled, tenant?}` enable or disable, globally or for a tenant
 * - `DELETE /api/v1/operator/policy/:capability[?tenant=T]` drop a setting (back to the global one / the default)
 * - `GET  /api/v1/operator/policy/audit` every policy change, newest first
 *
 * The operator's tenants and users are in tenants/routes.ts, in the same scope.
 */
import type { FastifyInstance } from 'fastify';
import type { PolicyAuditPage, PolicyCatalog, PolicyChange } from '@alga-psa/protocol';
import { auditQuerySchema, type AuditQuery } from '../routes/audit.ts';
import { operatorOf } from './operator.ts';
import type { PolicyService } from './service.ts';

export const OPERATOR_PREFIX = '/api/v1/operator';

const tenantQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { tenant: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

const capabilityParams = {
  type: 'object',
  properties: { capability: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

export function policyRoutes(app: FastifyInstance, deps: { policy: PolicyService }): void {
  app.get<{ Querystring: { tenant?: string } }>(
    `${OPERATOR_PREFIX}/policy`,
    { schema: { querystring: tenantQuerySchema } },
    async (request): Promise<PolicyCatalog> => deps.policy.catalog(request.query.tenant),
  );

  app.put<{ Params: { capability: string }; Body: PolicyChange }>(
    `${OPERATOR_PREFIX}/policy/:capability`,
    {
      schema: {
        params: capabilityParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['enabled'],
          properties: { enabled: { type: 'boolean' }, tenant: { type: 'string', minLength: 1, maxLength: 200 } },
        },
      },
    },
    async (request): Promise<PolicyCatalog> => {
      const { actor } = operatorOf(request);
      const { enabled, tenant } = request.body;
      await deps.policy.set({ actor, requestId: request.id }, request.params.capability, enabled, tenant);
      return deps.policy.catalog(tenant);
    },
  );

  app.delete<{ Params: { capability: string }; Querystring: { tenant?: string } }>(
    `${OPERATOR_PREFIX}/policy/:capability`,
    { schema: { params: capabilityParams, querystring: tenantQuerySchema } },
    async (request): Promise<PolicyCatalog> => {
      const { actor } = operatorOf(request);
      const { tenant } = request.query;
      await deps.policy.reset({ actor, requestId: request.id }, request.params.capability, tenant);
      return deps.policy.catalog(tenant);
    },
  );

  app.get<{ Querystring: AuditQuery }>(
    `${OPERATOR_PREFIX}/policy/audit`,
    { schema: { querystring: auditQuerySchema } },
    async (request): Promise<PolicyAuditPage> => deps.policy.history(request.query),
  );
}
