// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/user-v2@0.3.0' {
  export function getUser(): UserDataV2;
  export type UserDataV2 = import('alga:extension/types@0.3.0').UserDataV2;
  export type UserError = import('alga:extension/types@0.3.0').UserError;
}
