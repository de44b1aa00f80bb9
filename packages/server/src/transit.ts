/**
 * Which transit backend encrypts install secrets, chosen once at start from
 * the environment. The server only ever gets an encrypt function: even when
 * the backend client could decrypt (VaultTransit), the server's copy cannot,
 * and the Vault policy for its token should grant only transit/encrypt.
 */
import path from 'node:path';
import { encryptOnly, TransitError, transitFromEnv, type Encrypter } from '@alga-psa/transit';
import type { AlgaError } from '@alga-psa/protocol';
import { secretNotEncrypted } from './errors.ts';

export interface ServerTransit {
  encrypter: Encrypter;
  /** What the ready line and logs may say about the backend (no secrets). */
  describe: string;
  close(): Promise<void>;
}

/** `@alga-psa/transit`'s `transitFromEnv`, narrowed to encrypt; the local key file is created on first start. */
export async function encrypterFromEnv(env: NodeJS.ProcessEnv, dataDir: string): Promise<ServerTransit> {
  const transit = await transitFromEnv(env, {
    defaultKeyFile: path.join(dataDir, 'transit-keys.json'),
    createLocalKey: true,
  });
  return { encrypter: encryptOnly(transit.backend), describe: transit.describe, close: transit.close };
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
  return secretNotEncrypted({ hint }, { cause: error, details: { transitReason: reason } });
}
