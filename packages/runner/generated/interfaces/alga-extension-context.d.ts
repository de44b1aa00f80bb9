// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/context@0.3.0 **/
export function getContext(): ContextData;
export type ContextData = import('./alga-extension-types.js').ContextData;
