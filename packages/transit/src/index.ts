export * from './types.ts';
export { LocalKeyring } from './local-keyring.ts';
