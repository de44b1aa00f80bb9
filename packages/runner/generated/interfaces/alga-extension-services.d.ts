// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/services@0.3.0 **/
export function listServices(input: ServicesListInput): ServicesListResult;
export function getService(serviceId: string): ServiceSummary | undefined;
export type ServiceReadError = import('./alga-extension-types.js').ServiceReadError;
export type ServiceSummary = import('./alga-extension-types.js').ServiceSummary;
export type ServicesListInput = import('./alga-extension-types.js').ServicesListInput;
export type ServicesListResult = import('./alga-extension-types.js').ServicesListResult;
