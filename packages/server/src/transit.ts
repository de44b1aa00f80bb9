/**
 * Which transit backend encrypts install secrets, chosen once at start from
 * the environment. The server only ever gets an encrypt function: even when
 * the backend client could decrypt (VaultTransit), the server's copy cannot,
 * and the Vault policy for its token should grant only transit/encrypt.
 */
import path from 'node:path';
import { LocalKeyring, TransitError, VaultTransit, type Encrypter } from '@alga-psa/transit';
import { AlgaError } from '@alga-psa/protocol';

export interface ServerTransit {
  encrypter: Encrypter;
  /** What the ready line and logs may say about the backend (no secrets). */
  describe: string;
  close(): Promise<void>;
}

export async function transitFromEnv(env: NodeJS.ProcessEnv, dataDir: string): Promise<ServerTransit> {
  const kind = env['ALGA_TRANSIT'] || 'local';
  if (kind === 'local') {
    const keyring = await LocalKeyring.open(env['ALGA_TRANSIT_KEY_FILE'] ?? path.join(dataDir, 'transit-keys.json'), {
      create: true,
    });
    return { encrypter: encryptOnly(keyring), describe: keyring.keyRef, close: async () => {} };
  }
  if (kind !== 'vault') throw new Error(`ALGA_TRANSIT must be "local" or "vault", got ${JSON.stringify(kind)}.`);
  const missing = ['VAULT_ADDR', 'VAULT_TRANSIT_KEY', 'VAULT_TOKEN_FILE'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`ALGA_TRANSIT=vault needs ${missing.join(', ')}.`);
  const vault = new VaultTransit({
    address: env['VAULT_ADDR']!,
    keyName: env['VAULT_TRANSIT_KEY']!,
    tokenFile: env['VAULT_TOKEN_FILE']!,
    ...(env['VAULT_TRANSIT_MOUNT'] ? { mount: env['VAULT_TRANSIT_MOUNT'] } : {}),
    ...(env['VAULT_NAMESPACE'] ? { namespace: env['VAULT_NAMESPACE'] } : {}),
  });
  return { encrypter: encryptOnly(vault), describe: vault.keyRef, close: () => vault.close() };
}

/** Narrows a backend to the Encrypter contract so no code path here can call decrypt. */
export function encryptOnly(backend: Encrypter): Encrypter {
  return Object.freeze({
    keyRef: backend.keyRef,
    encrypt: (plaintext: Uint8Array, context: string) => backend.encrypt(plaintext, context),
  });
}

const REASON_HINTS: Partial<Record<string, string>> = {
  denied: 'the transit backend refused the server (an operator must check its token and policy)',
  config: 'the transit backend is misconfigured (an operator must check its key and mount)',
  unavailable: 'the transit backend did not answer',
};

/**
 * A failed encryption is always a failed write, never a plaintext fallback.
 * The client learns the kind of failure; the backend's own message (which
 * names paths and keys) goes only to the server log through `cause`.
 */
export function transitFailure(error: unknown): AlgaError {
  const reason = error instanceof TransitError ? error.reason : 'unavailable';
  const hint = REASON_HINTS[reason] ?? REASON_HINTS['unavailable']!;
  return new AlgaError(
    'ALGA_TRANSIT_UNAVAILABLE',
    `The secret could not be encrypted, so nothing was saved: ${hint}.`,
    {
      cause: error,
      details: { transitReason: reason },
    },
  );
}
