// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/http@0.2.0 **/
export function fetch(request: HttpRequest): HttpResponse;
export type HttpRequest = import('./alga-extension-types.js').HttpRequest;
export type HttpResponse = import('./alga-extension-types.js').HttpResponse;
export type HttpError = import('./alga-extension-types.js').HttpError;
