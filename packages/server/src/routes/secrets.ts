import type { FastifyInstance } from 'fastify';
import { AlgaError, secretAad, secretKeys } from '@alga-psa/protocol';
import type { Encrypter } from '@alga-psa/transit';
import type { Db } from '../db/index.ts';
import { transitFailure } from '../transit.ts';
import { principalOf } from '../auth/plugin.ts';
import { audit, findInstall, listSecretMeta, missingSecrets, type InstallRow } from '../data/installs.ts';

export const MAX_SECRET_BYTES = 64 * 1024;

export interface SecretRouteDeps {
  db: Db;
  encrypter: Encrypter;
  invalidate(tenantId: string, extensionId: string): void;
}

const putSchema = {
  body: { type: 'object', additionalProperties: false, required: ['value'], properties: { value: { type: 'string' } } },
} as const;

function declaredSecret(install: InstallRow, key: string): void {
  const declared = secretKeys(install.manifest);
  if (!declared.includes(key)) {
    throw new AlgaError(
      'ALGA_VALIDATION_FAILED',
      `"${key}" is not a secret setting of ${install.extensionId}; declared secrets: ${declared.length > 0 ? declared.join(', ') : '(none)'}.`,
      { details: [{ field: 'key', message: `not a declared secret; use one of: ${declared.join(', ')}` }] },
    );
  }
}

export function secretRoutes(app: FastifyInstance, deps: SecretRouteDeps): void {
  const { db, encrypter } = deps;

  async function installFor(tenantId: string, extensionId: string): Promise<InstallRow> {
    const install = await findInstall(db, tenantId, extensionId);
    if (!install) throw new AlgaError('ALGA_NOT_FOUND', `Extension "${extensionId}" is not installed for this tenant.`);
    return install;
  }

  app.get<{ Params: { extensionId: string } }>('/api/v1/installs/:extensionId/secrets', async (request) => {
    const install = await installFor(principalOf(request).tenantId, request.params.extensionId);
    const secrets = await listSecretMeta(db, install);
    return { secrets, secretsVersion: install.secretsVersion, missingSecrets: missingSecrets(install, secrets) };
  });

  app.put<{ Params: { extensionId: string; key: string }; Body: { value: string } }>(
    '/api/v1/installs/:extensionId/secrets/:key',
    { schema: putSchema },
    async (request) => {
      const principal = principalOf(request);
      const { extensionId, key } = request.params;
      const install = await installFor(principal.tenantId, extensionId);
      declaredSecret(install, key);
      const { value } = request.body;
      const bytes = Buffer.from(value, 'utf8');
      if (bytes.length === 0)
        throw new AlgaError('ALGA_VALIDATION_FAILED', `The value for "${key}" is empty; to clear it use DELETE.`);
      if (bytes.length > MAX_SECRET_BYTES) {
        throw new AlgaError(
          'ALGA_VALIDATION_FAILED',
          `The value for "${key}" is larger than ${MAX_SECRET_BYTES / 1024} KiB.`,
        );
      }
      let ciphertext: string;
      try {
        // The AAD binds the ciphertext to this tenant, install and key: copied
        // anywhere else it fails to decrypt.
        ciphertext = await encrypter.encrypt(bytes, secretAad(principal.tenantId, install.id, key));
      } catch (error) {
        // Never fall back to storing plaintext: the write fails instead.
        throw transitFailure(error);
      } finally {
        bytes.fill(0);
      }
      const result = await db.transaction(async (tx) => {
        const { rows } = await tx.query<{ version: number }>(
          `INSERT INTO install_secrets (install_id, key, ciphertext, key_ref, updated_by) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (install_id, key) DO UPDATE
             SET ciphertext = EXCLUDED.ciphertext, key_ref = EXCLUDED.key_ref, version = install_secrets.version + 1,
                 updated_at = now(), updated_by = EXCLUDED.updated_by
           RETURNING version`,
          [install.id, key, ciphertext, encrypter.keyRef, principal.actor],
        );
        const secretsVersion = await bumpSecretsVersion(tx, install.id);
        await audit(tx, {
          actor: principal.actor,
          tenantId: principal.tenantId,
          installId: install.id,
          action: 'secret.set',
          keyNames: [key],
          version: secretsVersion,
          requestId: request.id,
        });
        return { version: rows[0]!.version, secretsVersion };
      });
      deps.invalidate(principal.tenantId, extensionId);
      return { key, set: true, version: result.version, secretsVersion: result.secretsVersion };
    },
  );

  app.delete<{ Params: { extensionId: string; key: string } }>(
    '/api/v1/installs/:extensionId/secrets/:key',
    async (request) => {
      const principal = principalOf(request);
      const { extensionId, key } = request.params;
      const install = await installFor(principal.tenantId, extensionId);
      declaredSecret(install, key);
      const secretsVersion = await db.transaction(async (tx) => {
        const { rows } = await tx.query(
          'DELETE FROM install_secrets WHERE install_id = $1 AND key = $2 RETURNING key',
          [install.id, key],
        );
        // Deleting an unset secret is a no-op, not an error, so "reset" can be repeated safely.
        if (rows.length === 0) return install.secretsVersion;
        const next = await bumpSecretsVersion(tx, install.id);
        await audit(tx, {
          actor: principal.actor,
          tenantId: principal.tenantId,
          installId: install.id,
          action: 'secret.delete',
          keyNames: [key],
          version: next,
          requestId: request.id,
        });
        return next;
      });
      deps.invalidate(principal.tenantId, extensionId);
      return { key, set: false, secretsVersion };
    },
  );
}

async function bumpSecretsVersion(tx: Pick<Db, 'query'>, installId: string): Promise<number> {
  const { rows } = await tx.query<{ secrets_version: number }>(
    'UPDATE installs SET secrets_version = secrets_version + 1, updated_at = now() WHERE id = $1 RETURNING secrets_version',
    [installId],
  );
  return rows[0]!.secrets_version;
}
