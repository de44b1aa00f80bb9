/**
 * The audit trail, read side: `GET /api/v1/installs/:extensionId/audit`
 * (API keys) and `GET /ui/api/installs/:installId/audit` (web/api-routes.ts)
 * answer the same page. Tenant admins only, like the logs: the trail names
 * people. The install is resolved within the caller's tenant first, so
 * another tenant's install is a 404, the same as a made-up one.
 */
import type { FastifyInstance } from 'fastify';
import type { AuditPage } from '@alga-psa/protocol';
import { requireAdmin } from '../auth/api-keys.ts';
import { principalOf } from '../auth/plugin.ts';
import type { Queryable } from '../db/index.ts';
import { pageLimitTooHigh } from '../errors.ts';
import type { InstallService } from '../installs/service.ts';
import { MAX_AUDIT_PAGE, readAudit } from '../installs/store.ts';

export interface AuditQuery {
  limit?: string;
  before?: string;
}

/** Query-string schema of both doors: digits only, so nothing but a number reaches SQL. */
export const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' },
    before: { type: 'string', pattern: '^[0-9]{1,18}$' },
  },
} as const;

export function auditPage(db: Queryable, tenantId: string, installId: string, query: AuditQuery): Promise<AuditPage> {
  const limit = Number(query.limit ?? 50);
  if (limit > MAX_AUDIT_PAGE) throw pageLimitTooHigh({ max: MAX_AUDIT_PAGE });
  return readAudit(db, tenantId, installId, { limit, before: query.before });
}

export function auditRoutes(app: FastifyInstance, deps: { db: Queryable; installs: InstallService }): void {
  app.get<{ Params: { extensionId: string }; Querystring: AuditQuery }>(
    '/api/v1/installs/:extensionId/audit',
    { schema: { querystring: auditQuerySchema } },
    async (request): Promise<AuditPage> => {
      const principal = principalOf(request);
      requireAdmin(principal);
      const install = await deps.installs.get(principal.tenantId, request.params.extensionId);
      return auditPage(deps.db, principal.tenantId, install.id, request.query);
    },
  );
}
