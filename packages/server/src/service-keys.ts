/**
 * The server verifies the `alga-server` tokens it minted itself, so its
 * verification key is derived from its own signing key: one file to deploy
 * (ALGA_SERVICE_SIGNING_KEY_FILE), no chance of a mismatched pair.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ServiceTokenVerifier } from '@alga-psa/service-auth';

export async function verifierFromSigningKeyFile(file: string): Promise<ServiceTokenVerifier> {
  const publicKey = createPublicKey(createPrivateKey(await readFile(file, 'utf8')));
  return ServiceTokenVerifier.fromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
}
