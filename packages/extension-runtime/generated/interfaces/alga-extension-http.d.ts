// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/// <reference path="./alga-extension-types.d.ts" />
declare module 'alga:extension/http@0.2.0' {
  export function fetch(request: HttpRequest): HttpResponse;
  export type HttpRequest = import('alga:extension/types@0.2.0').HttpRequest;
  export type HttpResponse = import('alga:extension/types@0.2.0').HttpResponse;
  export type HttpError = import('alga:extension/types@0.2.0').HttpError;
}
