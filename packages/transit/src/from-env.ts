/**
 * The transit backend an operator configured, read once at start from the
 * environment. Both processes use it: the server keeps only the encrypt side
 * (`encryptOnly`) and a runner only the decrypt side (`decryptOnly`), so
 * neither process can call the other half even by mistake; the Vault policy
 * of each token should grant the same single path.
 *
 * - `ALGA_TRANSIT=local` (default): the keyring file `ALGA_TRANSIT_KEY_FILE`
 *   (or the caller's default path).
 * - `ALGA_TRANSIT=vault`: `VAULT_ADDR`, `VAULT_TRANSIT_KEY`, `VAULT_TOKEN_FILE`,
 *   optional `VAULT_TRANSIT_MOUNT` and `VAULT_NAMESPACE`.
 */
import { LocalKeyring } from './local-keyring.ts';
import type { Decrypter, Encrypter } from './types.ts';
import { VaultTransit } from './vault.ts';

export type TransitKind = 'local' | 'vault';

export interface TransitEnvOptions {
  /** Key file when `ALGA_TRANSIT_KEY_FILE` is unset; without one the variable is required. */
  defaultKeyFile?: string;
  /** Create the local key file when missing (the server does; a runner must not). */
  createLocalKey?: boolean;
}

export interface TransitBackend {
  kind: TransitKind;
  backend: Encrypter & Decrypter;
  /** What logs may say about the backend (no secrets). */
  describe: string;
  close(): Promise<void>;
}

/** Checks the variables without touching files or the network: every problem, named. */
export function transitEnvProblems(env: NodeJS.ProcessEnv, options: TransitEnvOptions = {}): string[] {
  const kind = env['ALGA_TRANSIT']?.trim() || 'local';
  if (kind === 'local') {
    return env['ALGA_TRANSIT_KEY_FILE']?.trim() || options.defaultKeyFile
      ? []
      : ['ALGA_TRANSIT_KEY_FILE is required (ALGA_TRANSIT=local).'];
  }
  if (kind !== 'vault') return [`ALGA_TRANSIT must be "local" or "vault", got ${JSON.stringify(kind)}.`];
  const missing = ['VAULT_ADDR', 'VAULT_TRANSIT_KEY', 'VAULT_TOKEN_FILE'].filter((name) => !env[name]?.trim());
  return missing.length > 0 ? [`ALGA_TRANSIT=vault needs ${missing.join(', ')}.`] : [];
}

export async function transitFromEnv(env: NodeJS.ProcessEnv, options: TransitEnvOptions = {}): Promise<TransitBackend> {
  const problems = transitEnvProblems(env, options);
  if (problems.length > 0) throw new Error(problems.join(' '));
  const kind = (env['ALGA_TRANSIT']?.trim() || 'local') as TransitKind;
  if (kind === 'local') {
    const keyring = await LocalKeyring.open(env['ALGA_TRANSIT_KEY_FILE']?.trim() || options.defaultKeyFile!, {
      create: options.createLocalKey ?? false,
    });
    return { kind, backend: keyring, describe: keyring.keyRef, close: async () => {} };
  }
  const vault = new VaultTransit({
    address: env['VAULT_ADDR']!.trim(),
    keyName: env['VAULT_TRANSIT_KEY']!.trim(),
    tokenFile: env['VAULT_TOKEN_FILE']!.trim(),
    ...(env['VAULT_TRANSIT_MOUNT']?.trim() ? { mount: env['VAULT_TRANSIT_MOUNT'].trim() } : {}),
    ...(env['VAULT_NAMESPACE']?.trim() ? { namespace: env['VAULT_NAMESPACE'].trim() } : {}),
  });
  return { kind, backend: vault, describe: vault.keyRef, close: () => vault.close() };
}

/** Narrows a backend to the Encrypter contract so no code path holding it can decrypt. */
export function encryptOnly(backend: Encrypter): Encrypter {
  return Object.freeze({
    keyRef: backend.keyRef,
    encrypt: (plaintext: Uint8Array, context: string) => backend.encrypt(plaintext, context),
  });
}

/** Narrows a backend to the Decrypter contract so no code path holding it can encrypt. */
export function decryptOnly(backend: Decrypter): Decrypter {
  return Object.freeze({
    decrypt: (ciphertext: string, context: string) => backend.decrypt(ciphertext, context),
    ready: () => backend.ready(),
  });
}
