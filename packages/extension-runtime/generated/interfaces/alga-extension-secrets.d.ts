// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/secrets@0.2.0' {
  export function get(key: string): string;
  export function listKeys(): Array<string>;
  export type SecretError = import('alga:extension/types@0.2.0').SecretError;
}
