// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/http@0.3.0' {
  export function fetch(request: HttpRequest): HttpResponse;
  /**
   * Additive (0.3.0): like `fetch`, with an error that names a secret whose
   * handle may not go to the request's host.
   */
  export function fetchV2(request: HttpRequest): HttpResponse;
  export type HttpRequest = import('alga:extension/types@0.3.0').HttpRequest;
  export type HttpResponse = import('alga:extension/types@0.3.0').HttpResponse;
  export type HttpError = import('alga:extension/types@0.3.0').HttpError;
  export type FetchError = import('alga:extension/types@0.3.0').FetchError;
}
