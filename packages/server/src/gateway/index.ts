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
 * UI, limited to endpoints the manifest marks `"proxy": true`; the guest sees
 * `x-alga-entry: ui-proxy` so it can tell the two doors apart.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AlgaError, type ExecuteRequest, type ExecuteUser } from '@alga-psa/protocol';
import type { Principal } from '../auth/api-keys.ts';
import { principalOf } from '../auth/plugin.ts';
import type { Db } from '../db/index.ts';
import {
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
import { requestHeadersForGuest, responseHeadersForClient } from './headers.ts';
import { matchEndpoint } from './match.ts';
import { installRateLimiter, type RateLimitOptions } from './rate-limit.ts';
import type { RunnerClient } from './runner-client.ts';

export const MAX_GATEWAY_BODY_BYTES = 1024 * 1024;

/** The mount points: the API gateway and the iframe UI's proxy. */
export const GATEWAY_PREFIX = '/api/ext';
export const UI_PROXY_PREFIX = '/api/ext-proxy';
export const UI_PROXY_ENTRY_HEADER = 'x-alga-entry';

export interface GatewayDeps {
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
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user behind a session call; null for API keys. */
    gatewayUser: ExecuteUser | null;
    /** The error code a gateway request ended with (metrics); null when the guest answered. */
    gatewayOutcome: string | null;
  }
}

export const DEFAULT_GATEWAY_RATE_LIMIT: RateLimitOptions = { perSecond: 50, burst: 100 };

function splitUrl(request: FastifyRequest, mount: string): { path: string; query: string } {
  const raw = request.raw.url ?? request.url;
  const queryAt = raw.indexOf('?');
  const pathname = queryAt === -1 ? raw : raw.slice(0, queryAt);
  const below = pathname.startsWith(mount) ? pathname.slice(mount.length) : '/';
  return { path: below === '' ? '/' : below, query: queryAt === -1 ? '' : raw.slice(queryAt + 1) };
}

/** Viewers read: only GET and HEAD. Anything that may change state needs an admin key. */
export function requireGatewayPermission(principal: Principal, method: string): void {
  if (principal.role === 'admin') return;
  if (method !== 'GET' && method !== 'HEAD') throw viewerGatewayWrite({ method });
}

export async function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const maxBodyBytes = deps.maxBodyBytes ?? MAX_GATEWAY_BODY_BYTES;
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
    const runtime = await deps.installs.runtime(principal.tenantId, extensionId);
    // One message for "unknown", "not installed", "disabled" and "another tenant's".
    if (!runtime || !runtime.install.enabled) throw notInstalled({ extensionId });
    requireGatewayPermission(principal, request.method);
    const { install } = runtime;
    const mount = `${entry === 'api' ? GATEWAY_PREFIX : UI_PROXY_PREFIX}/${extensionId}`;
    const { path, query } = splitUrl(request, mount);
    const endpoints =
      entry === 'api' ? install.manifest.api.endpoints : install.manifest.api.endpoints.filter((e) => e.proxy === true);
    if (!matchEndpoint(endpoints, request.method, path)) {
      const declared = endpoints.map((e) => `${e.method} ${e.path}`).join(', ') || '(none)';
      const route = { extensionId, method: request.method, path };
      throw entry === 'api'
        ? endpointNotDeclared({ ...route, declared })
        : proxyEndpointNotExposed({ ...route, exposed: declared });
    }
    const wait = (await limit?.(request, install.id)) ?? 0;
    if (wait > 0) {
      deps.metrics?.rateLimited(entry);
      reply.header('retry-after', String(wait));
      throw gatewayRateLimited({ extensionId, seconds: wait });
    }

    const headers = requestHeadersForGuest(request.headers);
    headers['x-request-id'] = request.id;
    if (entry === 'ui-proxy') headers[UI_PROXY_ENTRY_HEADER] = 'ui-proxy';
    const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body.toString('base64') : null;

    const execute: ExecuteRequest = {
      context: {
        request_id: request.id,
        tenant_id: install.tenantId,
        extension_id: install.extensionId,
        install_id: install.id,
        version_id: install.versionId,
        content_hash: install.contentHash,
      },
      ...(install.grantedCapabilities.includes('cap:http.fetch')
        ? { egress: { allowed_hosts: [...new Set([...install.manifest.allowedHosts, ...install.egressGrants])] } }
        : {}),
      config: runtime.config,
      config_version: String(runtime.configVersion),
      providers: install.grantedCapabilities,
      secret_envelope: runtime.envelope,
      ...(request.gatewayUser ? { user: request.gatewayUser } : {}),
      http: { method: request.method, path, query, headers, body_b64: body },
      limits: { timeout_ms: deps.executionTimeoutMs, ...(deps.memoryMb ? { memory_mb: deps.memoryMb } : {}) },
    };
    const result = await deps.runner.execute(execute);

    reply.headers(responseHeadersForClient(result.headers));
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
