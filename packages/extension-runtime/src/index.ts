export { createHandler, type ExtensionRequest, type Handler } from './handler.ts';
export type { Ctx, ContextData, Logger } from './context.ts';
export { SecretError, ConfigError, type SecretErrorCode, type ConfigErrorCode } from './errors.ts';
export { json, text, type ExtensionResponse, type ResponseOptions } from './response.ts';
