export interface ExtensionResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface ResponseOptions {
  status?: number;
  headers?: Record<string, string>;
}

/** A JSON response (`content-type: application/json`). */
export function json(data: unknown, options: ResponseOptions = {}): ExtensionResponse {
  return {
    status: options.status ?? 200,
    headers: withContentType('application/json; charset=utf-8', options.headers),
    body: JSON.stringify(data),
  };
}

/** A plain-text response. */
export function text(body: string, options: ResponseOptions = {}): ExtensionResponse {
  return {
    status: options.status ?? 200,
    headers: withContentType('text/plain; charset=utf-8', options.headers),
    body,
  };
}

// A spread of `undefined` still runs the engine's self-hosted copy; most responses add no headers.
function withContentType(type: string, headers: Record<string, string> | undefined): Record<string, string> {
  return headers ? { 'content-type': type, ...headers } : { 'content-type': type };
}
