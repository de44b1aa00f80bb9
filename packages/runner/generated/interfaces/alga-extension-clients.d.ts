// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/clients@0.3.0 **/
export function listClients(input: ClientsListInput): ClientsListResult;
export function getClient(clientId: string): ClientSummary | undefined;
export type ClientReadError = import('./alga-extension-types.js').ClientReadError;
export type ClientSummary = import('./alga-extension-types.js').ClientSummary;
export type ClientsListInput = import('./alga-extension-types.js').ClientsListInput;
export type ClientsListResult = import('./alga-extension-types.js').ClientsListResult;
