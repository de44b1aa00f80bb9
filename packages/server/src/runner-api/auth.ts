/**
 * Authentication for the runner-facing API: an `alga-server` service token,
 * minted by this server's gateway for one execution. The install a call acts
 * on comes from the token ONLY — never from the URL or body — so a runner
 * (or a guest that tricked it) can reach only the install it is executing.
 */
import type { FastifyRequest } from 'fastify';
import type { Capability, RUNNER_API_SCOPES } from '@alga-psa/protocol';
import { ServiceTokenError, type ServiceTokenVerifier } from '@alga-psa/service-auth';
import {
  noServiceVerifier,
  serviceTokenInvalid,
  serviceTokenScope,
  tokenInstallInactive,
  tokenInstallNotGranted,
} from '../errors.ts';
import type { InstallStore } from '../installs/store.ts';

/** The install a runner call acts on, resolved from its token. */
export interface RunnerPrincipal {
  tenantId: string;
  installId: string;
  requestId?: string;
}

export type RunnerScope = (typeof RUNNER_API_SCOPES)[keyof typeof RUNNER_API_SCOPES];

/** The capability an install must hold for each scope (checked again here: deny by default). */
const SCOPE_CAPABILITY: Record<RunnerScope, Capability> = {
  storage: 'cap:storage.kv',
  logs: 'cap:log.emit',
};

export async function authenticateRunner(
  installs: Pick<InstallStore, 'findById'>,
  verifier: ServiceTokenVerifier | undefined,
  request: FastifyRequest,
  scope: RunnerScope,
): Promise<RunnerPrincipal> {
  // Without a verification key no token can be trusted; say so instead of a bare 401.
  if (!verifier) throw noServiceVerifier();
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  let claims;
  try {
    claims = await verifier.verify(match?.[1], { audience: 'alga-server', scope });
  } catch (error) {
    if (error instanceof ServiceTokenError) {
      // A valid token without the scope is a 403; every other failure is a 401.
      throw (error.reason === 'scope' ? serviceTokenScope : serviceTokenInvalid)({ reason: error.message });
    }
    throw error;
  }
  // The install must still exist, belong to the token's tenant, be enabled and
  // hold the capability now (it may have been uninstalled or downgraded since minting).
  const install = await installs.findById(claims.tenantId, claims.installId);
  if (!install?.enabled) throw tokenInstallInactive();
  const capability = SCOPE_CAPABILITY[scope];
  if (!install.grantedCapabilities.includes(capability)) throw tokenInstallNotGranted({ capability });
  return {
    tenantId: claims.tenantId,
    installId: claims.installId,
    ...(claims.requestId ? { requestId: claims.requestId } : {}),
  };
}
