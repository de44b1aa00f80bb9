export { createHandler, type ExtensionRequest, type Handler } from './handler.ts';
export type { Ctx, ContextData, Logger, User, UiProxy } from './context.ts';
export type { HttpClient, FetchInit, FetchResponse } from './http.ts';
export type { Storage, KeyValueStore, StoredEntry, StoragePage, PutOptions } from './storage.ts';
export { DEFAULT_NAMESPACE } from './storage.ts';
export type { BodyReader } from './body.ts';
export {
  SecretError,
  ConfigError,
  HttpError,
  StorageError,
  ProxyError,
  UserError,
  allowedHostsEntryFor,
  type SecretErrorCode,
  type ConfigErrorCode,
  type HttpErrorCode,
  type StorageErrorCode,
  type ProxyErrorCode,
  type UserErrorCode,
} from './errors.ts';
export { json, text, type ExtensionResponse, type ResponseOptions } from './response.ts';
export type {
  ExtensionTypes,
  CapabilityId,
  DeclaredConfig,
  DeclaredSecretKey,
  DeclaredCapability,
  CapabilityNotDeclared,
} from './types.ts';
