export * from './types.ts';
export { LocalKeyring } from './local-keyring.ts';
export { VaultTransit, sanitizeVaultError, type VaultTransitOptions, type VaultKeyInfo } from './vault.ts';
export {
  transitFromEnv,
  transitEnvProblems,
  encryptOnly,
  decryptOnly,
  type TransitBackend,
  type TransitEnvOptions,
  type TransitKind,
} from './from-env.ts';
