/**
 * Authentication for the runner-facing API: an `alga-server` service token,
 * minted by this server's gateway for one execution. The install a call acts
 * on comes from the token ONLY — never from the URL or body — so a runner
 * (or a guest that tricked it) can reach only the install it is executing.
 */
import type { FastifyRequest } from 'fastify';
import { AlgaError, type Capability } from '@alga-psa/protocol';
import { ServiceTokenError, type ServiceTokenVerifier } from '@alga-psa/service-auth';
import type { Queryable } from '../db/index.ts';

/** The install a runner call acts on, resolved from its token. */
export interface RunnerPrincipal {
  tenantId: string;
  installId: string;
  requestId?: string;
}

export type RunnerScope = 'storage' | 'logs';

/** The capability an install must hold for each scope (checked again here: deny by default). */
const SCOPE_CAPABILITY: Record<RunnerScope, Capability> = {
  storage: 'cap:storage.kv',
  logs: 'cap:log.emit',
};

export async function authenticateRunner(
  db: Queryable,
  verifier: ServiceTokenVerifier | undefined,
  request: FastifyRequest,
  scope: RunnerScope,
): Promise<RunnerPrincipal> {
  if (!verifier) {
    // Without a verification key no token can be trusted; say so instead of a bare 401.
    throw new AlgaError(
      'ALGA_UNAUTHENTICATED',
      'This server has no service verification key configured, so it accepts no runner calls.',
    );
  }
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  let claims;
  try {
    claims = await verifier.verify(match?.[1], { audience: 'alga-server', scope });
  } catch (error) {
    if (error instanceof ServiceTokenError) {
      // A valid token without the scope is a 403; every other failure is a 401.
      throw new AlgaError(error.reason === 'scope' ? 'ALGA_FORBIDDEN' : 'ALGA_UNAUTHENTICATED', error.message);
    }
    throw error;
  }
  // The install must still exist, belong to the token's tenant, and hold the
  // capability now (it may have been uninstalled or downgraded since minting).
  const { rows } = await db.query<{ granted: boolean }>(
    `SELECT $3 = ANY (granted_capabilities) AS granted
       FROM installs WHERE id::text = $1 AND tenant_id::text = $2 AND enabled`,
    [claims.installId, claims.tenantId, SCOPE_CAPABILITY[scope]],
  );
  const row = rows[0];
  if (!row) throw new AlgaError('ALGA_FORBIDDEN', 'The install named by the service token is not active.');
  if (!row.granted) {
    throw new AlgaError('ALGA_FORBIDDEN', `The install was not granted ${SCOPE_CAPABILITY[scope]}.`);
  }
  return {
    tenantId: claims.tenantId,
    installId: claims.installId,
    ...(claims.requestId ? { requestId: claims.requestId } : {}),
  };
}
