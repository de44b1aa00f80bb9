/**
 * The gateway: `/api/ext/:extensionId/*` → the runner. The walk, in order:
 * authenticate (tenant from the key), find the install for (tenant, extension),
 * match the route against the manifest, load config and secret envelope,
 * send the runner an ExecuteRequest, relay the guest's response.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AlgaError, type ExecuteRequest, type Manifest, type SecretEnvelope } from '@alga-psa/protocol';
import type { Encrypter } from '@alga-psa/transit';
import type { Db } from '../db/index.ts';
import { registerAuth, principalOf } from '../auth/plugin.ts';
import { findInstall, loadConfig, type InstallRow } from '../data/installs.ts';
import { installCacheKey, type TtlCache } from './cache.ts';
import { matchEndpoint } from './match.ts';
import type { RunnerClient } from './runner-client.ts';

export const MAX_GATEWAY_BODY_BYTES = 1024 * 1024;

/** Only these client headers reach the guest; credentials and cookies never do. */
const FORWARDED_HEADERS = ['content-type', 'accept', 'accept-language', 'user-agent'];
/** Hop-by-hop headers (RFC 9110 §7.6.1) and cookies are not relayed from the guest. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'set-cookie',
]);

export interface InstallRuntime {
  install: InstallRow;
  manifest: Manifest;
  config: Record<string, unknown>;
  configVersion: number;
  envelope: SecretEnvelope | null;
}

export interface GatewayDeps {
  db: Db;
  encrypter: Pick<Encrypter, 'keyRef'>;
  runner: RunnerClient;
  cache: TtlCache<InstallRuntime | null>;
  executionTimeoutMs: number;
  memoryMb?: number;
}

async function loadRuntime(deps: GatewayDeps, tenantId: string, extensionId: string): Promise<InstallRuntime | null> {
  const key = installCacheKey(tenantId, extensionId);
  const cached = deps.cache.get(key);
  if (cached !== undefined) return cached;
  const install = await findInstall(deps.db, tenantId, extensionId);
  let runtime: InstallRuntime | null = null;
  if (install) {
    const { config, version } = await loadConfig(deps.db, install.id);
    runtime = {
      install,
      manifest: install.manifest,
      config,
      configVersion: version,
      envelope: await loadEnvelope(deps, install),
    };
  }
  deps.cache.set(key, runtime);
  return runtime;
}

/**
 * Ciphertexts only: the server cannot decrypt. An install without the secrets
 * capability gets no envelope at all (deny by default, nothing to leak).
 */
async function loadEnvelope(deps: GatewayDeps, install: InstallRow): Promise<SecretEnvelope | null> {
  if (!install.grantedCapabilities.includes('cap:secrets.get')) return null;
  const { rows } = await deps.db.query<{ key: string; ciphertext: string; key_ref: string }>(
    'SELECT key, ciphertext, key_ref FROM install_secrets WHERE install_id = $1 ORDER BY key',
    [install.id],
  );
  const ciphertexts: Record<string, string> = {};
  for (const row of rows) ciphertexts[row.key] = row.ciphertext;
  return {
    version: String(install.secretsVersion),
    algorithm: 'aes-256-gcm',
    key_ref: rows[0]?.key_ref ?? deps.encrypter.keyRef,
    expires_at: install.secretsExpiresAt ? install.secretsExpiresAt.toISOString() : null,
    ciphertexts,
  };
}

function splitUrl(request: FastifyRequest, extensionId: string): { path: string; query: string } {
  const raw = request.raw.url ?? request.url;
  const queryAt = raw.indexOf('?');
  const pathname = queryAt === -1 ? raw : raw.slice(0, queryAt);
  const mount = `/api/ext/${extensionId}`;
  const below = pathname.startsWith(mount) ? pathname.slice(mount.length) : '/';
  return { path: below === '' ? '/' : below, query: queryAt === -1 ? '' : raw.slice(queryAt + 1) };
}

export function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps): void {
  // The guest gets the request body as bytes, whatever its type, so no parsing here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_GATEWAY_BODY_BYTES }, (_request, body, done) =>
    done(null, body),
  );
  // Viewers may call GET endpoints; anything that may change state needs an admin key.
  registerAuth(app, deps.db);

  const handler = async (request: FastifyRequest<{ Params: { extensionId: string } }>, reply: FastifyReply) => {
    const principal = principalOf(request);
    const { extensionId } = request.params;
    const runtime = await loadRuntime(deps, principal.tenantId, extensionId);
    if (!runtime || !runtime.install.enabled) {
      // One message for "unknown", "not installed", "disabled" and "another tenant's".
      throw new AlgaError('ALGA_NOT_FOUND', `Extension "${extensionId}" is not installed for this tenant.`);
    }
    const { path, query } = splitUrl(request, extensionId);
    if (!matchEndpoint(runtime.manifest.api.endpoints, request.method, path)) {
      const declared = runtime.manifest.api.endpoints.map((e) => `${e.method} ${e.path}`).join(', ');
      throw new AlgaError(
        'ALGA_ROUTE_NOT_FOUND',
        `${extensionId} declares no endpoint ${request.method} ${path}; declared: ${declared || '(none)'}.`,
      );
    }

    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    headers['x-request-id'] = request.id;
    const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body.toString('base64') : null;

    const { install } = runtime;
    const execute: ExecuteRequest = {
      context: {
        request_id: request.id,
        tenant_id: install.tenantId,
        extension_id: install.extensionId,
        install_id: install.id,
        version_id: install.versionId,
        content_hash: install.contentHash,
      },
      config: runtime.config,
      config_version: String(runtime.configVersion),
      providers: install.grantedCapabilities,
      secret_envelope: runtime.envelope,
      http: { method: request.method, path, query, headers, body_b64: body },
      limits: { timeout_ms: deps.executionTimeoutMs, ...(deps.memoryMb ? { memory_mb: deps.memoryMb } : {}) },
    };
    const result = await deps.runner.execute(execute);

    for (const [name, value] of Object.entries(result.headers)) {
      if (!DROPPED_RESPONSE_HEADERS.has(name)) reply.header(name, value);
    }
    reply.header('x-request-id', request.id);
    return reply
      .code(result.status)
      .send(result.body_b64 === null ? undefined : Buffer.from(result.body_b64, 'base64'));
  };

  app.all('/api/ext/:extensionId', handler);
  app.all('/api/ext/:extensionId/*', handler);
}
