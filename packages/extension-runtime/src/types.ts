/**
 * Types `alga build` narrows from the manifest. It writes
 * `.alga/types.d.ts`, which augments {@link ExtensionTypes}:
 *
 * ```ts
 * declare module '@alga-psa/extension-runtime' {
 *   interface ExtensionTypes {
 *     config: { greeting?: string };
 *     secretKey: 'api_token';
 *     capability: 'cap:context.read' | 'cap:secrets.get' | 'cap:log.emit';
 *   }
 * }
 * ```
 *
 * Every `createHandler` then defaults to those types, so `ctx.config.get('typo')`,
 * `ctx.secrets.get('undeclared')` and `ctx.http` without `cap:http.fetch` are
 * compile errors. Without the generated file everything stays permissive.
 */
// An empty interface on purpose: it exists only to be augmented by the generated file.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ExtensionTypes {}

export type CapabilityId =
  | 'cap:context.read'
  | 'cap:secrets.get'
  | 'cap:http.fetch'
  | 'cap:storage.kv'
  | 'cap:log.emit'
  | 'cap:ui.proxy'
  | 'cap:user.read';

/** The manifest's non-secret settings, or any record when no types were generated. */
export type DeclaredConfig = ExtensionTypes extends { config: infer C extends Record<string, unknown> }
  ? C
  : Record<string, unknown>;

/** The manifest's secret keys, or any string when no types were generated. */
export type DeclaredSecretKey = ExtensionTypes extends { secretKey: infer K extends string } ? K : string;

/** The manifest's capabilities, or all of them when no types were generated. */
export type DeclaredCapability = ExtensionTypes extends { capability: infer C extends CapabilityId } ? C : CapabilityId;

/**
 * What `ctx.http` (and friends) is typed as when the manifest lacks the
 * capability. The property name IS the compiler's error message:
 * "Property 'fetch' does not exist on type 'CapabilityNotDeclared<"cap:http.fetch">'".
 */
export interface CapabilityNotDeclared<C extends CapabilityId> {
  readonly 'add this capability to "capabilities" in manifest.json': C;
}

export type IfDeclared<C extends CapabilityId, Caps extends CapabilityId, T> = [C] extends [Caps]
  ? T
  : CapabilityNotDeclared<C>;
