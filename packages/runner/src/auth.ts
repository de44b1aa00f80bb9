/**
 * Who may call the runner: only the server, with a short-lived `alga-runner`
 * token bound to one tenant and install, scoped to the route (`execute`,
 * `prepare`). The signature and lifetime are checked before the body is
 * parsed; the tenant/install binding once the body is known.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ExecuteRequest } from '@alga-psa/protocol';
import { ServiceTokenError, type ServiceClaims, type ServiceTokenVerifier } from '@alga-psa/service-auth';
import { errors } from './errors.ts';

/** Fastify's request or node:http's (the hand-written `/v1/execute`, execute-route.ts). */
type WithHeaders = { headers: IncomingHttpHeaders };

function bearer(request: WithHeaders): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}

/** Verifies the caller's token for `scope`; 401 for a missing, forged, expired or misdirected one. */
export async function verifyServiceToken(
  verifier: ServiceTokenVerifier,
  request: WithHeaders,
  scope: string,
): Promise<ServiceClaims> {
  try {
    return await verifier.verify(bearer(request), { audience: 'alga-runner', scope });
  } catch (error) {
    if (!(error instanceof ServiceTokenError)) throw error;
    // The reason is safe to tell: it names what is wrong with the token, not with the key.
    if (error.reason === 'scope') throw errors.tokenScope({ reason: error.message });
    throw errors.tokenRefused({ reason: error.message });
  }
}

/** 403 unless the token was minted for exactly this request's tenant and install. */
export function authorize(claims: ServiceClaims, execute: ExecuteRequest): void {
  const { tenant_id: tenantId, install_id: installId } = execute.context;
  if (claims.tenantId !== tenantId || claims.installId !== installId) throw errors.tokenForAnotherInstall();
}
