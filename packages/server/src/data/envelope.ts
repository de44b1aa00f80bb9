import type { SecretEnvelope } from '@alga-psa/protocol';
import type { Queryable } from '../db/index.ts';
import type { InstallRow } from './installs.ts';

/**
 * Ciphertexts only: the server cannot decrypt. An install without the secrets
 * capability gets no envelope at all (deny by default, nothing to leak).
 * Shared by the gateway and the runners' install-config endpoint.
 */
export async function loadEnvelope(
  db: Queryable,
  install: Pick<InstallRow, 'id' | 'grantedCapabilities' | 'secretsVersion' | 'secretsExpiresAt'>,
  fallbackKeyRef: string,
): Promise<SecretEnvelope | null> {
  if (!install.grantedCapabilities.includes('cap:secrets.get')) return null;
  const { rows } = await db.query<{ key: string; ciphertext: string; key_ref: string }>(
    'SELECT key, ciphertext, key_ref FROM install_secrets WHERE install_id = $1 ORDER BY key',
    [install.id],
  );
  const ciphertexts: Record<string, string> = {};
  for (const row of rows) ciphertexts[row.key] = row.ciphertext;
  return {
    version: String(install.secretsVersion),
    algorithm: 'aes-256-gcm',
    key_ref: rows[0]?.key_ref ?? fallbackKeyRef,
    expires_at: install.secretsExpiresAt ? install.secretsExpiresAt.toISOString() : null,
    ciphertexts,
  };
}
