/**
 * `POST /api/internal/ext-runner/install-config`: a runner asks for what it
 * needs to run one install (config, granted providers, the secret envelope —
 * ciphertext only — and the version stamps) without going through the
 * gateway. The install comes from the service token alone: the body is
 * ignored, so a runner can only ever learn about the install it was sent for.
 */
import type { FastifyInstance } from 'fastify';
import { AlgaError } from '@alga-psa/protocol';
import { ServiceTokenError, type ServiceTokenVerifier } from '@alga-psa/service-auth';
import type { Encrypter } from '@alga-psa/transit';
import type { Db } from '../db/index.ts';
import { findInstallById, loadConfig } from '../data/installs.ts';
import { loadEnvelope } from '../data/envelope.ts';

export const INSTALL_CONFIG_PATH = '/api/internal/ext-runner/install-config';
export const INSTALL_CONFIG_SCOPE = 'install-config';

export interface InstallConfigDeps {
  db: Db;
  encrypter: Pick<Encrypter, 'keyRef'>;
  verifier: ServiceTokenVerifier | undefined;
}

export function installConfigRoutes(app: FastifyInstance, deps: InstallConfigDeps): void {
  app.post(INSTALL_CONFIG_PATH, async (request) => {
    if (!deps.verifier) {
      throw new AlgaError(
        'ALGA_UNAUTHENTICATED',
        'This server has no service verification key configured (ALGA_SERVICE_SIGNING_KEY_FILE), so it accepts no runner calls.',
      );
    }
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    let claims;
    try {
      claims = await deps.verifier.verify(token, { audience: 'alga-server', scope: INSTALL_CONFIG_SCOPE });
    } catch (error) {
      if (error instanceof ServiceTokenError) {
        throw new AlgaError(error.reason === 'scope' ? 'ALGA_FORBIDDEN' : 'ALGA_UNAUTHENTICATED', error.message);
      }
      throw error;
    }
    const install = await findInstallById(deps.db, claims.tenantId, claims.installId);
    // A disabled or removed install answers like a missing one: the runner must stop serving it.
    if (!install || !install.enabled) {
      throw new AlgaError('ALGA_NOT_FOUND', 'The install named by the service token does not exist or is disabled.');
    }
    const { config, version } = await loadConfig(deps.db, install.id);
    return {
      config,
      providers: install.grantedCapabilities,
      secret_envelope: await loadEnvelope(deps.db, install, deps.encrypter.keyRef),
      configVersion: version,
      secretsVersion: install.secretsVersion,
    };
  });
}
