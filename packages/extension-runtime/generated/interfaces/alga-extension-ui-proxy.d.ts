// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/ui-proxy@0.3.0' {
  export function callRoute(route: string, payload: Uint8Array | undefined): Uint8Array;
  export type ProxyError = import('alga:extension/types@0.3.0').ProxyError;
}
