// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/user@0.3.0' {
  export function getUser(): UserData;
  export type UserData = import('alga:extension/types@0.3.0').UserData;
  export type UserError = import('alga:extension/types@0.3.0').UserError;
}
