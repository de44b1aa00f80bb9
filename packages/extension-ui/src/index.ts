/**
 * `@alga-psa/extension-ui`: helpers for an extension's iframe UI.
 *
 * The UI never holds a secret or an API key: it calls its own backend through
 * the host's UI proxy (`/api/ext-proxy/<extensionId>/<route>`). Inside the
 * product the page is sandboxed and asks the host page to make the call
 * (the bridge, ./bridge.ts); served on its own (`alga dev`) it calls the
 * proxy directly with the session cookie. The backend (the component) reads
 * secrets inside the runner and answers only what the UI may see.
 */
import { CSRF_HEADER } from '@alga-psa/protocol';
import { connectHost, inHostFrame, type BridgeResponse } from './bridge.ts';

export {
  connectHost,
  hostOrigin,
  inHostFrame,
  HostConnection,
  type BridgeResponse,
  type BridgeTheme,
  type BridgeUser,
  type HostContext,
} from './bridge.ts';

/** The header the host requires on a session's writes; the server reads the same constant. */
export { CSRF_HEADER };

export interface ProxyOptions {
  /** Defaults to the `ext` query parameter of the iframe URL, or `<meta name="alga-extension-id">`. */
  extensionId?: string;
  /** HTTP method; default `POST` with a payload, `GET` without. */
  method?: string;
  /** Abort the call (e.g. when the component unmounts). */
  signal?: AbortSignal;
  /** Replaces the global `fetch` (tests). */
  fetch?: typeof fetch;
  /** The document to read meta tags and the iframe URL from (default `globalThis.document`). */
  document?: Pick<Document, 'querySelector'> & { location?: { search: string } };
}

/** A non-2xx answer from the proxy, with the host's error code when it sent one. */
export class ProxyCallError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly body: unknown;
  constructor(status: number, message: string, code: string | undefined, body: unknown) {
    super(message);
    this.name = 'ProxyCallError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export const CSRF_META = 'alga-csrf-token';
export const EXTENSION_ID_META = 'alga-extension-id';

let csrfFromMessage: string | undefined;

/**
 * Listens for the host's `{type: 'alga:csrf', token}` message. Only messages
 * from this page's own origin are accepted, so another frame cannot plant a token.
 * Returns a function that stops listening.
 */
export function listenForCsrfToken(target: Pick<Window, 'addEventListener' | 'removeEventListener'> = window) {
  const origin = (globalThis as { location?: { origin: string } }).location?.origin;
  const onMessage = (event: MessageEvent) => {
    const data = event.data as { type?: unknown; token?: unknown } | null;
    if (event.origin !== origin || !data || data.type !== 'alga:csrf' || typeof data.token !== 'string') return;
    csrfFromMessage = data.token;
  };
  target.addEventListener('message', onMessage as EventListener);
  return () => target.removeEventListener('message', onMessage as EventListener);
}

function meta(doc: ProxyOptions['document'], name: string): string | undefined {
  const element = doc?.querySelector(`meta[name="${name}"]`) as { getAttribute?(n: string): string | null } | null;
  return element?.getAttribute?.('content') ?? undefined;
}

function resolveExtensionId(options: ProxyOptions, doc: ProxyOptions['document']): string {
  const fromQuery = doc?.location ? new URLSearchParams(doc.location.search).get('ext') : null;
  const id = options.extensionId ?? fromQuery ?? meta(doc, EXTENSION_ID_META);
  if (!id) {
    throw new Error(
      'callProxyJson: no extension id; pass {extensionId}, or serve the page with ?ext=<id> or <meta name="alga-extension-id">.',
    );
  }
  return id;
}

/**
 * Calls the extension's backend route through the host's UI proxy and
 * returns the parsed JSON answer. The route must be an endpoint marked
 * `"proxy": true` in manifest.json.
 *
 *   const stats = await callProxyJson<{ count: number }>('/stats', { range: '7d' });
 */
export async function callProxyJson<T = unknown>(
  route: string,
  payload?: unknown,
  options: ProxyOptions = {},
): Promise<T> {
  const doc = options.document ?? (globalThis as { document?: ProxyOptions['document'] }).document;
  const method = options.method ?? (payload === undefined ? 'GET' : 'POST');
  if (!options.fetch && typeof window !== 'undefined' && inHostFrame()) {
    // Sandboxed inside the product: the host page calls the proxy for us (and knows which extension we are).
    const answer = await connectHost().request(route, {
      method: method.toUpperCase() as 'GET',
      ...(payload === undefined ? {} : { body: new TextEncoder().encode(JSON.stringify(payload)) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return readAnswer<T>(route, answer);
  }
  const extensionId = resolveExtensionId(options, doc);
  const path = route.replace(/^\/+/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  // The host refuses session writes without this header: a cross-site page
  // cannot set a custom header without a CORS preflight the host never grants.
  // A token the host hands the page (meta tag or postMessage) rides along.
  headers[CSRF_HEADER] = meta(doc, CSRF_META) ?? csrfFromMessage ?? '1';
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const doFetch = options.fetch ?? fetch;
  const response = await doFetch(`/api/ext-proxy/${encodeURIComponent(extensionId)}/${path}`, {
    method,
    headers,
    // Same-origin cookies only: the session never leaves the host's origin.
    credentials: 'same-origin',
    body: payload === undefined ? undefined : JSON.stringify(payload),
    signal: options.signal,
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    if (response.ok) throw new ProxyCallError(response.status, `${route} answered non-JSON content.`, undefined, text);
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ProxyCallError(
      response.status,
      error?.message ?? `${route} failed with HTTP ${response.status}.`,
      error?.code,
      body,
    );
  }
  return body as T;
}

function readAnswer<T>(route: string, answer: BridgeResponse): T {
  const text = new TextDecoder().decode(answer.body);
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    if (answer.status >= 200 && answer.status < 300) {
      throw new ProxyCallError(answer.status, `${route} answered non-JSON content.`, undefined, text);
    }
  }
  if (answer.status < 200 || answer.status >= 300) {
    const error = (body as { error?: { message?: string } } | undefined)?.error;
    throw new ProxyCallError(
      answer.status,
      error?.message ?? answer.error ?? `${route} failed with HTTP ${answer.status}.`,
      answer.code,
      body,
    );
  }
  return body as T;
}

/** For tests: forget a token received by message. */
export function resetCsrfToken(): void {
  csrfFromMessage = undefined;
}
