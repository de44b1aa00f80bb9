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

// The reference host's SDK (0.3.0) surface, so `handler(request, host)` code runs unchanged.
// Its `Handler`, `ContextData` and `UserError` collide with ours and are renamed here;
// `@alga-psa/extension-runtime/reference` spells every name as 0.3.0 does.
export {
  jsonResponse,
  emptyResponse,
  callProxyJson,
  normalizeUserData,
  createMockHostBindings,
  createHostBindings,
  type ExecuteRequest,
  type ExecuteResponse,
  type HostBindings,
  type HostImports,
  type HttpHeader,
  type HttpRequest,
  type HttpResponse,
  type SecretsHost,
  type HttpHost,
  type StorageHost,
  type LoggingHost,
  type UiProxyHost,
  type SchedulerHost,
  type ScheduleInfo,
  type EndpointInfo,
  type CreateScheduleInput,
  type CreateScheduleResult,
  type UpdateScheduleInput,
  type UpdateScheduleResult,
  type DeleteScheduleResult,
  type UserData,
  type UserDataV2,
  type RawUserData,
  type UserHost,
  type Handler as ReferenceHandler,
  type ContextData as ReferenceContextData,
  type UserError as ReferenceUserError,
} from './reference.ts';
