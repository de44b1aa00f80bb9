// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/user@0.3.0 **/
export function getUser(): UserData;
export type UserData = import('./alga-extension-types.js').UserData;
export type UserError = import('./alga-extension-types.js').UserError;
