// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/services@0.3.0' {
  export function listServices(input: ServicesListInput): ServicesListResult;
  export function getService(serviceId: string): ServiceSummary | undefined;
  export type ServiceReadError = import('alga:extension/types@0.3.0').ServiceReadError;
  export type ServiceSummary = import('alga:extension/types@0.3.0').ServiceSummary;
  export type ServicesListInput = import('alga:extension/types@0.3.0').ServicesListInput;
  export type ServicesListResult = import('alga:extension/types@0.3.0').ServicesListResult;
}
