// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/config@0.3.0' {
  /**
   * The JSON encoding of the value of `key`, or none when the key is not set.
   */
  export function get(key: string): string | undefined;
  /**
   * The whole config object, JSON-encoded.
   */
  export function getAll(): string;
  export type ConfigError = import('alga:extension/types@0.3.0').ConfigError;
}
