/**
 * Who may call `/v1/execute`: only the server, with a short-lived
 * `alga-runner` token (scope `execute`) bound to one tenant and install.
 * The signature and lifetime are checked before the body is parsed; the
 * tenant/install binding once the body is known.
 */
import type { FastifyRequest } from 'fastify';
import { AlgaError, type ExecuteRequest } from '@alga-psa/protocol';
import { ServiceTokenError, type ServiceClaims, type ServiceTokenVerifier } from '@alga-psa/service-auth';

export const EXECUTE_SCOPE = 'execute';
/** Load and compile a bundle ahead of its first request (sent by the server on install/upgrade). */
export const PREPARE_SCOPE = 'prepare';

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}

/** Verifies the caller's token; 401 for a missing, forged, expired or misdirected one. */
export async function authenticate(
  verifier: ServiceTokenVerifier,
  request: FastifyRequest,
  scope: string = EXECUTE_SCOPE,
): Promise<ServiceClaims> {
  try {
    return await verifier.verify(bearer(request), { audience: 'alga-runner', scope });
  } catch (error) {
    if (!(error instanceof ServiceTokenError)) throw error;
    if (error.reason === 'scope') throw new AlgaError('ALGA_FORBIDDEN', error.message);
    // The reason is safe to tell: it names what is wrong with the token, not with the key.
    throw new AlgaError('ALGA_UNAUTHENTICATED', error.message);
  }
}

/** 403 unless the token was minted for exactly this request's tenant and install. */
export function authorize(claims: ServiceClaims, execute: ExecuteRequest): void {
  const { tenant_id: tenantId, install_id: installId } = execute.context;
  if (claims.tenantId !== tenantId || claims.installId !== installId) {
    throw new AlgaError('ALGA_FORBIDDEN', 'The service token was issued for another tenant or install.');
  }
}
