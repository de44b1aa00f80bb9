// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
declare module 'alga:extension/logging@0.3.0' {
  export function logInfo(message: string): void;
  export function logWarn(message: string): void;
  export function logError(message: string): void;
}
