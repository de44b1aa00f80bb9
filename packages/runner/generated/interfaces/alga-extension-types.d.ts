// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/types@0.1.0 **/
export interface ContextData {
  requestId?: string,
  tenantId: string,
  extensionId: string,
  installId?: string,
  versionId?: string,
}
/**
 * # Variants
 * 
 * ## `"missing"`
 * 
 * ## `"denied"`
 * 
 * ## `"expired"`
 * 
 * ## `"internal"`
 */
export type SecretError = 'missing' | 'denied' | 'expired' | 'internal';
export interface HttpHeader {
  name: string,
  value: string,
}
export interface HttpRequest {
  method: string,
  url: string,
  headers: Array<HttpHeader>,
  body?: Uint8Array,
}
export interface HttpResponse {
  status: number,
  headers: Array<HttpHeader>,
  body?: Uint8Array,
}
/**
 * # Variants
 * 
 * ## `"invalid-url"`
 * 
 * ## `"not-allowed"`
 * 
 * ## `"transport"`
 * 
 * ## `"internal"`
 */
export type HttpError = 'invalid-url' | 'not-allowed' | 'transport' | 'internal';
/**
 * # Variants
 * 
 * ## `"missing"`
 * 
 * ## `"conflict"`
 * 
 * ## `"denied"`
 * 
 * ## `"internal"`
 */
export type StorageError = 'missing' | 'conflict' | 'denied' | 'internal';
export interface StorageEntry {
  namespace: string,
  key: string,
  value: Uint8Array,
  revision?: bigint,
}
/**
 * # Variants
 * 
 * ## `"route-not-found"`
 * 
 * ## `"denied"`
 * 
 * ## `"bad-request"`
 * 
 * ## `"internal"`
 */
export type ProxyError = 'route-not-found' | 'denied' | 'bad-request' | 'internal';
export interface UserData {
  tenantId: string,
  clientName: string,
  userId: string,
  userEmail: string,
  userName: string,
  userType: string,
}
/**
 * # Variants
 * 
 * ## `"not-available"`
 * 
 * ## `"not-allowed"`
 */
export type UserError = 'not-available' | 'not-allowed';
export interface ExecuteRequest {
  context: ContextData,
  http: HttpRequest,
}
export interface ExecuteResponse {
  status: number,
  headers: Array<HttpHeader>,
  body?: Uint8Array,
}
/**
 * Additive: one page of a storage listing with the cursor of the next page.
 */
export interface StoragePage {
  entries: Array<StorageEntry>,
  nextCursor?: string,
}
/**
 * Additive: why reading the install's config failed.
 * # Variants
 * 
 * ## `"denied"`
 * 
 * ## `"internal"`
 */
export type ConfigError = 'denied' | 'internal';
