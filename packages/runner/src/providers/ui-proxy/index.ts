/**
 * `alga:extension/ui-proxy`: `call-route(route, payload)` reaches a host
 * endpoint the OPERATOR configured for UI-initiated actions (route name →
 * URL, `RUNNER_UI_PROXY_ROUTES`). A guest names a route, never a URL, so it
 * can reach nothing the operator did not list. Unlocked by `cap:ui.proxy`.
 *
 * The payload is POSTed as-is with the request id, tenant and install in
 * headers; the answer's body comes back as bytes. Errors: unknown route →
 * `route-not-found`, a 4xx answer → `bad-request`, anything else (5xx,
 * timeout, refused connection, an answer over the size cap) → `internal`.
 */
import { Type } from 'typebox';
import { request } from 'undici';
import { callBudget, callSignal, witErr, type ExecutionScope } from '../../host-calls/index.ts';
import { readCapped, ResponseTooLargeError } from '../../read-body.ts';
import { defineProvider, type ProviderImpl } from '../types.ts';

export interface UiProxyOptions {
  /** Route name → absolute http(s) URL (validated at start, see `parseUiProxyRoutes`). */
  routes: ReadonlyMap<string, URL>;
  /** Per call, never more than the execution's own deadline (default 10 s). */
  timeoutMs?: number;
  /** Largest answer body (default 1 MiB). */
  maxResponseBytes?: number;
}

export const UI_PROXY_DEFAULT_TIMEOUT_MS = 10_000;
export const UI_PROXY_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Parses the operator's route table (a JSON object of route → URL). Throws
 * one message listing every problem, so a bad table stops the runner at start.
 */
export function parseUiProxyRoutes(json: string | undefined): Map<string, URL> {
  const routes = new Map<string, URL>();
  if (!json?.trim()) return routes;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('must be a JSON object of route name → http(s) URL.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('must be a JSON object of route name → http(s) URL.');
  }
  const problems: string[] = [];
  for (const [route, target] of Object.entries(value)) {
    let url: URL | undefined;
    try {
      url = typeof target === 'string' ? new URL(target) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      problems.push(`route ${JSON.stringify(route)} needs an absolute http(s) URL`);
    } else if (url.username || url.password) {
      problems.push(`route ${JSON.stringify(route)} must not carry credentials in its URL`);
    } else {
      routes.set(route, url);
    }
  }
  if (problems.length > 0) throw new Error(`${problems.join('; ')}.`);
  return routes;
}

export function uiProxyImpl(options: UiProxyOptions = { routes: new Map() }): ProviderImpl<'ui-proxy'> {
  const timeoutMs = options.timeoutMs ?? UI_PROXY_DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? UI_PROXY_MAX_RESPONSE_BYTES;

  async function callRoute(scope: ExecutionScope, route: string, payload: Uint8Array | undefined) {
    // Own-property lookup: a route named `__proto__` or `toString` is just unknown.
    const target = options.routes.get(route);
    if (!target) {
      scope.logger.warn({ provider: 'ui-proxy', route }, 'ui-proxy route is not configured');
      return witErr('route-not-found');
    }
    const { context } = scope.request;
    const budget = callBudget(scope, timeoutMs);
    const signal = callSignal(scope, budget);
    try {
      const response = await request(target, {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          'x-request-id': context.request_id,
          'x-alga-tenant-id': context.tenant_id,
          'x-alga-install-id': context.install_id,
          'x-alga-extension-id': context.extension_id,
        },
        body: payload ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) : undefined,
        // undici's request() never follows redirects: a 3xx answers `internal`.
        signal,
      });
      const body = await readCapped(response, maxBytes);
      const status = response.statusCode;
      if (status >= 200 && status < 300) return new Uint8Array(body);
      scope.logger.warn({ provider: 'ui-proxy', route, status }, 'ui-proxy route answered with an error');
      return witErr(status >= 400 && status < 500 ? 'bad-request' : 'internal');
    } catch (error) {
      if (error instanceof ResponseTooLargeError) {
        scope.logger.warn({ provider: 'ui-proxy', route, max_bytes: maxBytes }, 'ui-proxy answer too large');
        return witErr('internal');
      }
      const code = (error as { code?: string }).code;
      scope.logger.warn(
        { provider: 'ui-proxy', route, error: signal.aborted ? 'timeout' : (code ?? 'unknown') },
        'ui-proxy call failed',
      );
      return witErr('internal');
    }
  }

  return {
    functions: { callRoute },
    denied: () => witErr('denied'),
  };
}

export const uiProxyProvider = defineProvider({
  iface: 'ui-proxy',
  settings: {
    uiProxyRoutes: Type.Codec(
      Type.String({ default: '', env: 'RUNNER_UI_PROXY_ROUTES', description: 'JSON: ui-proxy route → URL.' }),
    )
      .Decode(parseUiProxyRoutes)
      .Encode((routes: ReadonlyMap<string, URL>) => JSON.stringify(Object.fromEntries(routes))),
  },
  create: ({ settings }) => uiProxyImpl({ routes: settings.uiProxyRoutes }),
});
