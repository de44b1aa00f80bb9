import { bodyReader, encodeValue, type BodyReader } from './body.ts';
import { HttpError } from './errors.ts';
import { host, witErrorCase, witErrorValue } from './host.ts';

export interface FetchInit {
  /** Default `GET`, or `POST` when a body or `json` is given. */
  method?: string;
  headers?: Record<string, string> | [string, string][];
  /** Sent as is (a string as UTF-8). */
  body?: string | Uint8Array | ArrayBuffer;
  /** Sent as JSON with `content-type: application/json` unless you set one. */
  json?: unknown;
}

export interface FetchResponse extends BodyReader {
  status: number;
  /** True for 2xx. */
  ok: boolean;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
}

export interface HttpClient {
  /**
   * A fetch-like call through the runner's http capability. The URL's host
   * must be listed in the manifest's `allowedHosts`. A secret handle
   * (`ctx.secrets.handle`) in the URL, a header value or the body is
   * replaced by the secret's value on the way out, only to that secret's
   * `egress` hosts (else `secret-not-allowed`). Rejects with an
   * {@link HttpError} (`not-allowed`, `invalid-url`, `transport`, …) only when
   * no response arrived; a 404 or 500 from the remote is a normal response.
   */
  fetch(url: string | URL, init?: FetchInit): Promise<FetchResponse>;
}

export function createHttpClient(): HttpClient {
  return {
    async fetch(input, init = {}) {
      const url = String(input);
      const http = host().http;
      if (!http) throw new HttpError('not-declared', url);
      const headers: { name: string; value: string }[] = [];
      const given = Array.isArray(init.headers) ? init.headers : Object.entries(init.headers ?? {});
      for (const [name, value] of given) headers.push({ name, value: String(value) });
      let body: Uint8Array | undefined;
      if (init.json !== undefined) {
        body = new TextEncoder().encode(JSON.stringify(init.json));
        if (!headers.some((h) => h.name.toLowerCase() === 'content-type')) {
          headers.push({ name: 'content-type', value: 'application/json' });
        }
      } else if (init.body !== undefined) {
        body = encodeValue(init.body).bytes;
      }
      const method = (init.method ?? (body ? 'POST' : 'GET')).toUpperCase();
      let response;
      try {
        // fetch-v2 names a secret whose handle was refused; a host without it (older, or a mock) has fetch only.
        response =
          typeof http.fetchV2 === 'function'
            ? http.fetchV2({ method, url, headers, body })
            : http.fetch({ method, url, headers, body });
      } catch (error) {
        const code = witErrorCase(error);
        if (code === 'secret-not-allowed') throw new HttpError(code, url, witErrorValue(error));
        throw new HttpError(
          code === 'not-allowed' || code === 'invalid-url' || code === 'transport' ? code : 'internal',
          url,
        );
      }
      const responseHeaders: Record<string, string> = {};
      for (const { name, value } of response.headers) {
        const key = name.toLowerCase();
        responseHeaders[key] = key in responseHeaders ? `${responseHeaders[key]}, ${value}` : value;
      }
      return {
        status: response.status,
        ok: response.status >= 200 && response.status < 300,
        headers: responseHeaders,
        ...bodyReader(response.body),
      };
    },
  };
}
