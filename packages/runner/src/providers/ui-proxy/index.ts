/**
 * `alga:extension/ui-proxy`: `call-route(route, payload)` reaches a host
 * endpoint the OPERATOR configured. Unlocked by `cap:ui.proxy`. Two kinds of
 * route, both confined to what the operator set up:
 *
 * - a route NAME from `RUNNER_UI_PROXY_ROUTES` (route name → URL): the
 *   payload is POSTed as-is with the request id, tenant and install in
 *   headers. Unknown route → `route-not-found`, a 4xx answer → `bad-request`,
 *   anything else (5xx, timeout, refused connection, an answer over the size
 *   cap) → `internal`.
 * - any other route is a PATH, with the reference host's semantics
 *   (REFERENCE-HOST.md §4): `/api/…` goes to the platform API base
 *   (`RUNNER_UI_PROXY_API_BASE`), anything else to the extension's own base
 *   (`RUNNER_UI_PROXY_EXTENSION_BASE`) below `/<extension id>/`. POST with
 *   the payload as JSON when there is one, else GET; the install's secret
 *   `api_key`, when set, goes as `x-api-key`. 2xx → the body, 401/403/429 →
 *   `denied`, 404 → `route-not-found`, other 4xx → `bad-request`, the rest →
 *   `internal`. A path cannot leave its base: it is rebuilt from its segments
 *   and `.`/`..` (also percent-encoded) is `bad-request`. Without the base a
 *   path needs, it is `route-not-found`. Redirects are followed as the
 *   reference's client follows them (up to 10; 301/302 turn a POST into a
 *   GET, 303 always, 307/308 keep it) while they stay below the route's own
 *   base; one that leaves it is not followed and answers `internal`, so the
 *   `x-api-key` never reaches another origin or another extension's path.
 */
import { Type } from 'typebox';
import { request } from 'undici';
import { secretAad } from '@alga-psa/protocol';
import type { Decrypter } from '@alga-psa/transit';
import { callBudget, callSignal, witErr, type ExecutionScope } from '../../host-calls/index.ts';
import { egressOf } from '../../host-calls/secret-handles.ts';
import { readCapped, ResponseTooLargeError } from '../../read-body.ts';
import { defineProvider, type ProviderImpl } from '../types.ts';

export interface UiProxyOptions {
  /** Route name → absolute http(s) URL (validated at start, see `parseUiProxyRoutes`). */
  routes: ReadonlyMap<string, URL>;
  /** Where path routes under `/api/` go (the platform's API); none: such routes are `route-not-found`. */
  apiBase?: URL | undefined;
  /** Where other path routes go, below `/<extension id>/`; none: such routes are `route-not-found`. */
  extensionBase?: URL | undefined;
  /** Decrypts the install's `api_key` secret for path routes. */
  decrypter?: Decrypter | undefined;
  /** Per call, never more than the execution's own deadline (default 10 s). */
  timeoutMs?: number;
  /** Largest answer body (default 1 MiB). */
  maxResponseBytes?: number;
}

export const UI_PROXY_DEFAULT_TIMEOUT_MS = 10_000;
export const UI_PROXY_MAX_RESPONSE_BYTES = 1024 * 1024;

/** The secret whose value a path route sends as `x-api-key`, as on the reference host. */
export const UI_PROXY_API_KEY_SECRET = 'api_key';

/** An operator-given base URL: absolute http(s), no credentials; undefined when empty. Throws what is wrong. */
export function parseUiProxyBase(value: string | undefined): URL | undefined {
  if (!value?.trim()) return undefined;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Error('must be an absolute http(s) URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an absolute http(s) URL.');
  if (url.username || url.password) throw new Error('must not carry credentials in its URL.');
  if (url.search || url.hash) throw new Error('must not have a query or fragment.');
  return url;
}

/** Where a path route may go, redirects included: its base's origin, below `prefix` (ends in `/`). */
interface PathRoot {
  origin: string;
  prefix: string;
}

/**
 * Whether a path's segments, percent-decoded, stay where they are: a `.` or
 * `..` (also one behind an encoded `/`, which an upstream that decodes its
 * path would act on) could climb out of the base, and a backslash is a
 * separator in http(s) URLs.
 */
function segmentsStay(segments: readonly string[]): boolean {
  for (const segment of segments) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return false;
    }
    if (decoded.includes('\\') || decoded.split('/').some((part) => part === '.' || part === '..')) return false;
  }
  return true;
}

function resolvePathRoute(
  route: string,
  extensionId: string,
  bases: Pick<UiProxyOptions, 'apiBase' | 'extensionBase'>,
): { url: URL; root: PathRoot } | 'bad-request' | undefined {
  const trimmed = route.trim();
  if (trimmed === '') return 'bad-request';
  const queryAt = trimmed.indexOf('?');
  const pathPart = queryAt === -1 ? trimmed : trimmed.slice(0, queryAt);
  const segments = pathPart.split('/').filter((segment) => segment !== '');
  if (!segmentsStay(segments)) return 'bad-request';
  const toApi = pathPart.startsWith('/api/') || pathPart.startsWith('api/');
  const base = toApi ? bases.apiBase : bases.extensionBase;
  if (!base) return undefined;
  const url = new URL(base);
  const baseSegments = url.pathname.split('/').filter((segment) => segment !== '');
  const rootSegments = toApi ? baseSegments : [...baseSegments, encodeURIComponent(extensionId)];
  url.pathname = `/${[...rootSegments, ...segments].join('/')}`;
  url.search = queryAt === -1 ? '' : trimmed.slice(queryAt + 1);
  const prefix = rootSegments.length === 0 ? '/' : `/${rootSegments.join('/')}/`;
  return { url, root: { origin: url.origin, prefix } };
}

/**
 * The URL of a path route, or `bad-request`, or undefined when the base it
 * needs is not configured. Built from the route's segments below the base's
 * own path, so no route can leave its base.
 */
export function pathRouteUrl(
  route: string,
  extensionId: string,
  bases: Pick<UiProxyOptions, 'apiBase' | 'extensionBase'>,
): URL | 'bad-request' | undefined {
  const resolved = resolvePathRoute(route, extensionId, bases);
  return typeof resolved === 'object' ? resolved.url : resolved;
}

/** As many hops as reqwest, the reference host's client, follows by default. */
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Where a redirect from `from` goes, when that stays below the route's root; undefined otherwise. */
function redirectWithin(location: unknown, from: URL, root: PathRoot): URL | undefined {
  if (typeof location !== 'string') return undefined;
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return undefined;
  }
  if (next.origin !== root.origin || !`${next.pathname}/`.startsWith(root.prefix)) return undefined;
  return segmentsStay(next.pathname.split('/')) ? next : undefined;
}

/** The reference host's status → variant table for path routes. */
function pathRouteError(status: number): 'denied' | 'route-not-found' | 'bad-request' | 'internal' {
  if (status === 401 || status === 403 || status === 429) return 'denied';
  if (status === 404) return 'route-not-found';
  if (status >= 400 && status < 500) return 'bad-request';
  return 'internal';
}

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

  /** The install's `api_key` secret (masked from now on), undefined when it has none; `internal` when it cannot be read. */
  async function apiKey(scope: ExecutionScope): Promise<string | undefined | 'internal'> {
    const { context, secret_envelope: envelope } = scope.request;
    const ciphertext = envelope?.ciphertexts[UI_PROXY_API_KEY_SECRET];
    if (!envelope || ciphertext === undefined || !options.decrypter) return undefined;
    if (envelope.expires_at !== null && !(Date.parse(envelope.expires_at) > Date.now())) return 'internal';
    try {
      // Decrypted per call: the secrets provider's cache is its own, and path routes are UI-initiated (rare).
      const plain = await options.decrypter.decrypt(
        ciphertext,
        secretAad(context.tenant_id, context.install_id, UI_PROXY_API_KEY_SECRET),
      );
      const value = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength).toString('utf8');
      plain.fill(0);
      scope.masked.add(value);
      return value;
    } catch {
      scope.logger.warn({ provider: 'ui-proxy' }, 'the api_key secret could not be decrypted');
      return 'internal';
    }
  }

  async function callPath(scope: ExecutionScope, route: string, payload: Uint8Array | undefined) {
    const { context, user } = scope.request;
    const target = resolvePathRoute(route, context.extension_id, options);
    if (target === 'bad-request') return witErr('bad-request');
    if (!target) {
      scope.logger.warn({ provider: 'ui-proxy', route }, 'ui-proxy path route has no base configured');
      return witErr('route-not-found');
    }
    // An `api_key` whose manifest setting lists egress hosts goes only where http would send it: never here.
    const bound = egressOf(scope, UI_PROXY_API_KEY_SECRET) !== undefined;
    if (bound)
      scope.logger.debug({ provider: 'ui-proxy' }, 'ui-proxy: api_key is egress-bound; sent without x-api-key');
    const key = bound ? undefined : await apiKey(scope);
    if (key === 'internal') return witErr('internal');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-request-id': context.request_id || 'ui-proxy-call',
      'x-alga-tenant': context.tenant_id,
      'x-alga-extension': context.extension_id,
      'x-ext-install-id': context.install_id,
      ...(context.version_id ? { 'x-ext-version-id': context.version_id } : {}),
      ...(key !== undefined ? { 'x-api-key': key } : {}),
      ...(user ? { 'x-user-id': user.user_id, ...(user.user_email ? { 'x-user-email': user.user_email } : {}) } : {}),
    };
    const signal = callSignal(scope, callBudget(scope, timeoutMs));
    let url = target.url;
    let method = payload ? 'POST' : 'GET';
    let sent = payload ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) : undefined;
    try {
      for (let hops = 0; ; hops++) {
        const response = await request(url, { method, headers, body: sent, signal });
        const status = response.statusCode;
        if (REDIRECT_STATUSES.has(status)) {
          const next = hops < MAX_REDIRECTS ? redirectWithin(response.headers.location, url, target.root) : undefined;
          await response.body.dump();
          if (!next) {
            scope.logger.warn(
              { provider: 'ui-proxy', route, status, hops },
              hops < MAX_REDIRECTS
                ? "ui-proxy redirect leaves the route's base; not followed"
                : 'ui-proxy route redirected too many times',
            );
            return witErr('internal');
          }
          if (status === 303 || (method === 'POST' && (status === 301 || status === 302))) {
            method = 'GET';
            sent = undefined;
          }
          url = next;
          continue;
        }
        const body = await readCapped(response, maxBytes);
        if (status >= 200 && status < 300) return new Uint8Array(body);
        scope.logger.warn({ provider: 'ui-proxy', route, status }, 'ui-proxy path route answered with an error');
        return witErr(pathRouteError(status));
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      scope.logger.warn(
        {
          provider: 'ui-proxy',
          route,
          error:
            error instanceof ResponseTooLargeError ? 'too-large' : signal.aborted ? 'timeout' : (code ?? 'unknown'),
        },
        'ui-proxy call failed',
      );
      return witErr('internal');
    }
  }

  async function callRoute(scope: ExecutionScope, route: string, payload: Uint8Array | undefined) {
    // Own-property lookup: a route named `__proto__` or `toString` is just unknown.
    const target = options.routes.get(route);
    if (!target) return callPath(scope, route, payload);
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
    uiProxyApiBase: Type.Codec(
      Type.String({
        default: '',
        env: 'RUNNER_UI_PROXY_API_BASE',
        description: 'Base URL of the platform API that ui-proxy path routes under /api/ reach.',
      }),
    )
      .Decode(parseUiProxyBase)
      .Encode((url: URL | undefined) => url?.href ?? ''),
    uiProxyExtensionBase: Type.Codec(
      Type.String({
        default: '',
        env: 'RUNNER_UI_PROXY_EXTENSION_BASE',
        description: "Base URL below which other ui-proxy path routes reach an extension's own backend.",
      }),
    )
      .Decode(parseUiProxyBase)
      .Encode((url: URL | undefined) => url?.href ?? ''),
  },
  create: ({ settings, deps }) =>
    uiProxyImpl({
      routes: settings.uiProxyRoutes,
      apiBase: settings.uiProxyApiBase,
      extensionBase: settings.uiProxyExtensionBase,
      decrypter: deps.decrypter,
    }),
});
