/**
 * The gateway: `/api/ext/:extensionId/*` → the runner. The walk, in order:
 * refuse an oversized body by its Content-Length, authenticate (tenant from
 * the key), find the install for (tenant, extension), check read vs write
 * permission, match the route against the manifest, count the request in
 * the install's rate limit, load config and secret envelope (the install
 * service's cache), send the runner an ExecuteRequest, relay the guest's
 * response through the header allowlist.
 *
 * `/api/ext-proxy/:extensionId/*` is the same walk for the extension's iframe
 * UI, limited to endpoints the manifest marks `"proxy": true`, with the
 * reference's `__method` override of a POST (method-override.ts); the guest
 * sees `x-alga-entry: ui-proxy` so it can tell the two doors apart.
 *
 * `:extensionId` is the extension id or, as on the reference host, the
 * install's id or `lower(publisher + "." + name)`. A manifest without an `api`
 * section (the reference's format) accepts every method and path on both doors.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AlgaError,
  REFERENCE_MANIFEST_FORMAT,
  secretEgressField,
  type ExecuteRequest,
  type ExecuteUser,
} from '@alga-psa/protocol';
import { endSpan, type Span, type Tracing } from '@alga-psa/protocol/tracing';
import type { Principal } from '../auth/api-keys.ts';
import { principalOf } from '../auth/plugin.ts';
import type { Db } from '../db/index.ts';
import {
  clientPortalGateway,
  endpointNotDeclared,
  gatewayBodyTooLarge,
  gatewayRateLimited,
  notInstalled,
  proxyEndpointNotExposed,
  viewerGatewayWrite,
} from '../errors.ts';
import type { InstallService } from '../installs/service.ts';
import type { GatewayEntry, ServerMetrics } from '../metrics.ts';
import { identifyCaller } from './caller.ts';
import { GUEST_RESPONSE_SECURITY_HEADERS, requestHeadersForGuest, responseHeadersForClient } from './headers.ts';
import { matchEndpoint } from './match.ts';
import { applyMethodOverride } from './method-override.ts';
import { DEFAULT_GATEWAY_RATE_LIMIT, installRateLimiter, type RateLimitOptions } from './rate-limit.ts';
import type { RunnerClient } from './runner-client.ts';
import type { SigningService } from '../signing/index.ts';

export const MAX_GATEWAY_BODY_BYTES = 1024 * 1024;
/** The most `ALGA_GATEWAY_MAX_BODY_BYTES` may allow: the reference host's 10 MiB, which fits a runner's execute body base64-encoded. */
export const MAX_GATEWAY_BODY_SETTING = 10 * 1024 * 1024;

/** `ALGA_GATEWAY_MAX_BODY_BYTES`; undefined when unset (1 MiB). */
export function gatewayMaxBodyFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env['ALGA_GATEWAY_MAX_BODY_BYTES'];
  if (raw === undefined || raw === '') return undefined;
  const bytes = Number(raw);
  if (!Number.isInteger(bytes) || bytes < 1024 || bytes > MAX_GATEWAY_BODY_SETTING) {
    throw new Error(
      `ALGA_GATEWAY_MAX_BODY_BYTES must be a whole number of bytes from 1024 to ${MAX_GATEWAY_BODY_SETTING} (10 MiB), got ${JSON.stringify(raw)}.`,
    );
  }
  return bytes;
}

/** The mount points: the API gateway and the iframe UI's proxy. */
export const GATEWAY_PREFIX = '/api/ext';
export const UI_PROXY_PREFIX = '/api/ext-proxy';
export const UI_PROXY_ENTRY_HEADER = 'x-alga-entry';

export interface GatewayDeps {
  /** Refuses versions signed by a revoked key (and unsigned ones where signatures are required). */
  signing?: SigningService;
  /** Authenticates API keys and sessions. */
  db: Db;
  /** Where each request's install runtime comes from (cached per install). */
  installs: Pick<InstallService, 'runtime'>;
  runner: RunnerClient;
  /** Requests by outcome and status class, latency, rate-limit refusals. */
  metrics?: Pick<ServerMetrics, 'gatewayRequest' | 'rateLimited'>;
  executionTimeoutMs: number;
  memoryMb?: number;
  /** Per-install rate limit; false turns it off. Default 50/s, burst 100. */
  rateLimit?: RateLimitOptions | false;
  /** Request body cap in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Origins a signed-in browser may send writes from (default: the server's own). */
  allowedOrigins?: string[];
  /** A span per gateway request, parent of the runner call's; absent: no hook is even registered. */
  tracing?: Tracing;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user behind a session call; null for API keys. */
    gatewayUser: ExecuteUser | null;
    /** The error code a gateway request ended with (metrics); null when the guest answered. */
    gatewayOutcome: string | null;
    /** This request's span, when tracing is on. */
    gatewaySpan: Span | undefined;
  }
}

/**
 * The path below `/<prefix>/<extensionId>` and the raw query. The id segment
 * is skipped as it was sent (still percent-encoded), so an id with a space,
 * such as the reference's `lower(publisher.name)`, cuts the path as any other.
 */
function splitUrl(request: FastifyRequest, prefix: string): { path: string; query: string } {
  const raw = request.raw.url ?? request.url;
  const queryAt = raw.indexOf('?');
  const pathname = queryAt === -1 ? raw : raw.slice(0, queryAt);
  let below = '/';
  if (pathname.startsWith(`${prefix}/`)) {
    const afterId = pathname.indexOf('/', prefix.length + 1);
    below = afterId === -1 ? '/' : pathname.slice(afterId);
  }
  return { path: below === '' ? '/' : below, query: queryAt === -1 ? '' : raw.slice(queryAt + 1) };
}

/**
 * Viewers read: only GET and HEAD. Anything that may change state needs an
 * admin key. A client-portal user may use any method, as on the reference
 * host, but only through the UI proxy of an extension in the client portal
 * (`requirePortalAccess`, checked first).
 */
export function requireGatewayPermission(principal: Principal, method: string): void {
  if (principal.role === 'admin' || principal.role === 'client') return;
  if (method !== 'GET' && method !== 'HEAD') throw viewerGatewayWrite({ method });
}

/**
 * A client-portal user reaches an extension only through the UI proxy, and
 * only one whose installed version declares `ui.hooks.clientPortalMenu`;
 * any other install answers the same 404 as one that is not installed.
 */
export function requirePortalAccess(
  principal: Principal,
  entry: 'api' | 'ui-proxy',
  extensionId: string,
  manifest: { ui?: { hooks?: { clientPortalMenu?: unknown } } | undefined },
): void {
  if (principal.role !== 'client') return;
  if (entry !== 'ui-proxy') throw clientPortalGateway({ extensionId });
  if (!manifest.ui?.hooks?.clientPortalMenu) throw notInstalled({ extensionId });
}

export async function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const maxBodyBytes = deps.maxBodyBytes ?? MAX_GATEWAY_BODY_BYTES;
  const { tracing } = deps;
  if (tracing) traceGateway(app, tracing);
  const limit =
    deps.rateLimit === false ? undefined : await installRateLimiter(app, deps.rateLimit ?? DEFAULT_GATEWAY_RATE_LIMIT);

  // Refuse by the declared length before authenticating or reading a byte;
  // Fastify's bodyLimit then enforces the same cap while a chunked body streams in.
  app.addHook('onRequest', async (request) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > maxBodyBytes) throw gatewayBodyTooLarge({ max: maxBodyBytes });
  });
  // The guest gets the request body as bytes, whatever its type, so no parsing here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_request, body, done) =>
    done(null, body),
  );
  app.decorateRequest('gatewayUser', null);
  const { metrics } = deps;
  if (metrics) {
    app.decorateRequest('gatewayOutcome', null);
    // Registry codes only (bounded); anything else is one "error" bucket.
    app.addHook('onError', async (request, _reply, error) => {
      request.gatewayOutcome = error instanceof AlgaError ? error.code : 'error';
    });
    app.addHook('onResponse', async (request, reply) => {
      const entry: GatewayEntry = request.url.startsWith(UI_PROXY_PREFIX) ? 'ui-proxy' : 'api';
      metrics.gatewayRequest(entry, request.gatewayOutcome ?? 'ok', reply.statusCode, reply.elapsedTime / 1000);
    });
  }
  app.addHook('onRequest', async (request) => {
    const caller = await identifyCaller(deps.db, request, { allowedOrigins: deps.allowedOrigins });
    request.principal = caller.principal;
    request.gatewayUser = caller.user ?? null;
  });

  const handle = async (
    entry: 'api' | 'ui-proxy',
    request: FastifyRequest<{ Params: { extensionId: string } }>,
    reply: FastifyReply,
  ) => {
    const principal = principalOf(request);
    const { extensionId } = request.params;
    // The extension id, or the reference host's others for the install (its id, `lower(publisher.name)`).
    const runtime = await deps.installs.runtime(principal.tenantId, extensionId);
    // One message for "unknown", "not installed", "disabled" and "another tenant's".
    if (!runtime || !runtime.install.enabled) throw notInstalled({ extensionId });
    // What the runner answers: the grant minus what provider policy disables (the rest answers `denied`).
    const { install, capabilities } = runtime;
    requirePortalAccess(principal, entry, extensionId, install.manifest);
    const split = splitUrl(request, entry === 'api' ? GATEWAY_PREFIX : UI_PROXY_PREFIX);
    const received = {
      method: request.method,
      query: split.query,
      body: Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined,
    };
    // Before the permission check and the route match, which apply to the method the guest will see.
    const { method, query, body } = entry === 'ui-proxy' ? applyMethodOverride(received) : received;
    const { path } = split;
    requireGatewayPermission(principal, method);
    // Our manifests open an endpoint to the iframe UI with `"proxy": true`; the reference host's
    // ext-proxy applies the same allowlist as its gateway, so a reference manifest's endpoints all are.
    const endpoints =
      entry === 'api' || install.manifest.format === REFERENCE_MANIFEST_FORMAT
        ? install.manifest.api.endpoints
        : install.manifest.api.endpoints.filter((e) => e.proxy === true);
    // A reference manifest without an `api` section sends every method and path to its one handler
    // (the consent says so); one that declares endpoints gets the allowlist.
    if (install.manifest.acceptsAnyPath !== true && !matchEndpoint(endpoints, method, path)) {
      const declared = endpoints.map((e) => `${e.method} ${e.path}`).join(', ') || '(none)';
      const route = { extensionId, method, path };
      throw entry === 'api'
        ? endpointNotDeclared({ ...route, declared })
        : proxyEndpointNotExposed({ ...route, exposed: declared });
    }
    await deps.signing?.assertRunnable(install.tenantId, install.signature);
    const wait = (await limit?.(request, install.id)) ?? 0;
    if (wait > 0) {
      deps.metrics?.rateLimited(entry);
      reply.header('retry-after', String(wait));
      throw gatewayRateLimited({ extensionId, seconds: wait });
    }

    const headers = requestHeadersForGuest(request.headers);
    headers['x-request-id'] = request.id;
    if (entry === 'ui-proxy') headers[UI_PROXY_ENTRY_HEADER] = 'ui-proxy';

    const execute: ExecuteRequest = {
      context: {
        request_id: request.id,
        tenant_id: install.tenantId,
        extension_id: install.extensionId,
        install_id: install.id,
        version_id: install.versionId,
        content_hash: install.contentHash,
      },
      ...(capabilities.includes('cap:http.fetch')
        ? { egress: { allowed_hosts: [...new Set([...install.manifest.allowedHosts, ...install.egressGrants])] } }
        : {}),
      config: runtime.config,
      config_version: String(runtime.configVersion),
      providers: capabilities,
      secret_envelope: runtime.envelope,
      ...secretEgressField(install.manifest.settings),
      ...(install.signature ? { bundle_signature: install.signature } : {}),
      ...(request.gatewayUser ? { user: request.gatewayUser } : {}),
      // As on the reference host, a method other than GET or HEAD always brings a body, maybe empty.
      http: {
        method,
        path,
        query,
        headers,
        body_b64: body ? body.toString('base64') : method === 'GET' || method === 'HEAD' ? null : '',
      },
      limits: { timeout_ms: deps.executionTimeoutMs, ...(deps.memoryMb ? { memory_mb: deps.memoryMb } : {}) },
    };
    const result = await deps.runner.execute(execute, request.gatewaySpan);

    reply.headers(responseHeadersForClient(result.headers));
    reply.headers(GUEST_RESPONSE_SECURITY_HEADERS);
    reply.header('x-request-id', request.id);
    return reply
      .code(result.status)
      .send(result.body_b64 === null ? undefined : Buffer.from(result.body_b64, 'base64'));
  };

  type Request = FastifyRequest<{ Params: { extensionId: string } }>;
  const api = (request: Request, reply: FastifyReply) => handle('api', request, reply);
  const proxy = (request: Request, reply: FastifyReply) => handle('ui-proxy', request, reply);
  app.all(`${GATEWAY_PREFIX}/:extensionId`, api);
  app.all(`${GATEWAY_PREFIX}/:extensionId/*`, api);
  app.all(`${UI_PROXY_PREFIX}/:extensionId`, proxy);
  app.all(`${UI_PROXY_PREFIX}/:extensionId/*`, proxy);
}

/**
 * One server span per gateway request, from its first hook (so refusals are
 * traced too) to the response. A client's own `traceparent` is not followed:
 * each gateway request starts a trace, so a caller cannot join or steer ours.
 * Attributes: method, route template, status, ids, the registry error code;
 * never the path or query the client sent, headers or a body.
 */
function traceGateway(app: FastifyInstance, tracing: Tracing): void {
  app.decorateRequest('gatewaySpan', undefined);
  const errorTypes = new WeakMap<FastifyRequest, string>();
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? GATEWAY_PREFIX;
    request.gatewaySpan = tracing.start(`${request.method} ${route}`, {
      kind: 'server',
      attributes: {
        'http.request.method': request.method,
        'http.route': route,
        'alga.request_id': request.id,
        'alga.entry': route.startsWith(UI_PROXY_PREFIX) ? 'ui-proxy' : 'api',
      },
    });
  });
  app.addHook('preHandler', async (request) => {
    const span = request.gatewaySpan;
    if (!span) return;
    const params = request.params as { extensionId?: string } | undefined;
    if (params?.extensionId) span.setAttribute('alga.extension_id', params.extensionId);
    if (request.principal) span.setAttribute('alga.tenant_id', request.principal.tenantId);
  });
  app.addHook('onError', async (request, _reply, error) => {
    errorTypes.set(request, error instanceof AlgaError ? error.code : 'error');
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = request.gatewaySpan;
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    const errorType = errorTypes.get(request);
    if (errorType && reply.statusCode < 500) span.setAttribute('error.type', errorType);
    // A 5xx is the server's failure (OpenTelemetry's rule for server spans); a 4xx is the client's.
    endSpan(span, reply.statusCode >= 500 ? { code: errorType ?? String(reply.statusCode) } : undefined);
  });
}
