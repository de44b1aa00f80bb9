// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/context@0.3.0' {
  export function getContext(): ContextData;
  export type ContextData = import('alga:extension/types@0.3.0').ContextData;
}
