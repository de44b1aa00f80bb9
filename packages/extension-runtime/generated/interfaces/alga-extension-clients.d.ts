// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/clients@0.3.0' {
  export function listClients(input: ClientsListInput): ClientsListResult;
  export function getClient(clientId: string): ClientSummary | undefined;
  export type ClientReadError = import('alga:extension/types@0.3.0').ClientReadError;
  export type ClientSummary = import('alga:extension/types@0.3.0').ClientSummary;
  export type ClientsListInput = import('alga:extension/types@0.3.0').ClientsListInput;
  export type ClientsListResult = import('alga:extension/types@0.3.0').ClientsListResult;
}
