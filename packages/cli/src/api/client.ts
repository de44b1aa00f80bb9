import type {
  ApiKeyCreated,
  ApiKeyInfo,
  ApiKeyList,
  AuditPage,
  CreateApiKeyRequest,
  Consent,
  ErrorBody,
  PolicyAuditPage,
  PolicyCatalog,
  CreateTenantRequest,
  CreateUserRequest,
  TenantCreated,
  TenantList,
  UserCreated,
  UserList,
  PublishedVersion,
} from '@alga-psa/protocol';

/**
 * A failed call to the server's management API, with the server's error code
 * when it sent one. The code stays a string: a newer server may answer with a
 * code this CLI's registry does not know yet, and its message still helps.
 */
export class ServerApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly details: unknown;
  constructor(status: number, message: string, code?: string, details?: unknown) {
    super(message);
    this.name = 'ServerApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ApiClientOptions {
  serverUrl: string;
  apiKey: string;
  /** Give up on a call after this long (the reference CLI's --timeout); none by default. */
  timeoutMs?: number;
  /** Sent as `x-tenant-id` (the reference CLI's --tenant): the server refuses it unless it is the key's tenant. */
  tenantId?: string;
}

/** The server's management API, as the CLI and scripts use it. */
export class ApiClient {
  readonly #base: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number | undefined;
  readonly #tenantId: string | undefined;

  constructor(options: ApiClientOptions) {
    this.#base = options.serverUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs;
    this.#tenantId = options.tenantId;
  }

  get serverUrl(): string {
    return this.#base;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    let response: Response;
    try {
      const streaming = body instanceof ReadableStream;
      response = await fetch(`${this.#base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#apiKey}`,
          ...(this.#tenantId ? { 'x-tenant-id': this.#tenantId } : {}),
          ...extraHeaders,
          ...(body === undefined ? {} : { 'content-type': contentType }),
        },
        body:
          body === undefined
            ? undefined
            : contentType === 'application/json'
              ? JSON.stringify(body)
              : (body as BodyInit),
        // Node's fetch needs this to send a stream body.
        ...(streaming ? { duplex: 'half' } : {}),
        ...(this.#timeoutMs ? { signal: AbortSignal.timeout(this.#timeoutMs) } : {}),
      } as RequestInit);
    } catch (error) {
      throw new ServerApiError(
        0,
        `Cannot reach the server at ${this.#base} (${(error as Error).cause ?? (error as Error).message}). Is it running?`,
      );
    }
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!response.ok) {
      const err = (parsed as ErrorBody | undefined)?.error;
      throw new ServerApiError(
        response.status,
        err?.message ?? `${method} ${path} failed with HTTP ${response.status}`,
        err?.code,
        err?.details,
      );
    }
    return parsed as T;
  }

  uploadBundle(contentHash: string, bytes: Uint8Array): Promise<{ contentHash: string; size: number }> {
    return this.request('PUT', `/api/v1/bundles/${contentHash}`, bytes, 'application/octet-stream');
  }

  publishVersion(input: {
    manifest: unknown;
    contentHash: string;
    metadata?: unknown;
    signature?: unknown;
  }): Promise<PublishedVersion> {
    return this.request('POST', '/api/v1/extensions/versions', input);
  }

  /**
   * `POST /api/v1/extensions/publish` with a bundle archive; `onProgress`
   * hears how many bytes have been handed to the socket so far.
   */
  publishArchive(
    archive: Uint8Array,
    onProgress?: (sent: number, total: number) => void,
    contentType = 'application/gzip',
    /** A signature document (`alga sign`), sent in the `alga-bundle-signature` header. */
    signature?: unknown,
  ): Promise<PublishedVersion> {
    const chunk = 64 * 1024;
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= archive.byteLength) {
          controller.close();
          return;
        }
        const next = archive.subarray(offset, offset + chunk);
        offset += next.byteLength;
        controller.enqueue(next);
        onProgress?.(offset, archive.byteLength);
      },
    });
    const headers: Record<string, string> =
      signature === undefined
        ? {}
        : { 'alga-bundle-signature': Buffer.from(JSON.stringify(signature)).toString('base64') };
    return this.request('POST', '/api/v1/extensions/publish', body, contentType, headers);
  }

  revokeSigningKey(keyId: string, reason: string): Promise<{ keyId: string; versionsSigned: number }> {
    return this.request('POST', '/api/v1/signing/revocations', { keyId, reason });
  }

  listExtensions(): Promise<{
    extensions: { id: string; latestVersion: string | null; versions: { version: string; contentHash?: string }[] }[];
  }> {
    return this.request('GET', '/api/v1/extensions');
  }

  listSecrets(extensionId: string): Promise<{
    secrets: {
      key: string;
      set: boolean;
      version: number | null;
      updatedAt?: string | null;
      expiresAt?: string | null;
    }[];
    missingSecrets?: string[];
  }> {
    return this.request('GET', `/api/v1/installs/${encodeURIComponent(extensionId)}/secrets`);
  }

  logs(extensionId: string, query: { limit?: number; after?: string }): Promise<unknown> {
    const params = new URLSearchParams();
    if (query.limit) params.set('limit', String(query.limit));
    if (query.after) params.set('after', query.after);
    const q = params.toString();
    return this.request('GET', `/api/v1/installs/${encodeURIComponent(extensionId)}/logs${q ? `?${q}` : ''}`);
  }

  /** One page of the install's audit trail, newest first; `before` is the previous page's `nextBefore`. */
  audit(extensionId: string, query: { limit?: number; before?: string } = {}): Promise<AuditPage> {
    const params = new URLSearchParams();
    if (query.limit) params.set('limit', String(query.limit));
    if (query.before) params.set('before', query.before);
    const q = params.toString();
    return this.request('GET', `/api/v1/installs/${encodeURIComponent(extensionId)}/audit${q ? `?${q}` : ''}`);
  }

  /** The tenant's API keys, newest first (admin keys only). */
  apiKeys(): Promise<ApiKeyList> {
    return this.request('GET', '/api/v1/api-keys');
  }

  /** A new API key for this tenant (answered once). */
  createApiKey(request: CreateApiKeyRequest): Promise<ApiKeyCreated> {
    return this.request('POST', '/api/v1/api-keys', request);
  }

  /** Revokes one of the tenant's keys; revoking a revoked key changes nothing. */
  revokeApiKey(keyId: string): Promise<ApiKeyInfo> {
    return this.request('DELETE', `/api/v1/api-keys/${encodeURIComponent(keyId)}`);
  }

  // ── Platform operator (the client's key is then the operator key, not a tenant's) ──

  /** An API key for a tenant (id or name) that lost its own admin keys. */
  issueTenantKey(tenant: string, request: CreateApiKeyRequest): Promise<ApiKeyCreated> {
    return this.request('POST', `/api/v1/operator/tenants/${encodeURIComponent(tenant)}/api-keys`, request);
  }

  /** Provider policy: every capability, its global and per-tenant settings; with `tenant`, what that tenant gets. */
  policy(tenant?: string): Promise<PolicyCatalog> {
    const q = tenant ? `?tenant=${encodeURIComponent(tenant)}` : '';
    return this.request('GET', `/api/v1/operator/policy${q}`);
  }

  /** Enables or disables a capability globally, or for one tenant (id or name). */
  setPolicy(capability: string, enabled: boolean, tenant?: string): Promise<PolicyCatalog> {
    return this.request('PUT', `/api/v1/operator/policy/${encodeURIComponent(capability)}`, {
      enabled,
      ...(tenant ? { tenant } : {}),
    });
  }

  /** Drops a stored setting: the tenant follows the global one again (the global one: enabled). */
  resetPolicy(capability: string, tenant?: string): Promise<PolicyCatalog> {
    const q = tenant ? `?tenant=${encodeURIComponent(tenant)}` : '';
    return this.request('DELETE', `/api/v1/operator/policy/${encodeURIComponent(capability)}${q}`);
  }

  /** One page of the policy trail, newest first. */
  policyAudit(query: { limit?: number; before?: string } = {}): Promise<PolicyAuditPage> {
    const params = new URLSearchParams();
    if (query.limit) params.set('limit', String(query.limit));
    if (query.before) params.set('before', query.before);
    const q = params.toString();
    return this.request('GET', `/api/v1/operator/policy/audit${q ? `?${q}` : ''}`);
  }

  /** Every tenant, by name. */
  tenants(): Promise<TenantList> {
    return this.request('GET', '/api/v1/operator/tenants');
  }

  /** A new tenant and its first admin API key (answered once). */
  createTenant(request: CreateTenantRequest): Promise<TenantCreated> {
    return this.request('POST', '/api/v1/operator/tenants', request);
  }

  /** A tenant's (id or name) web users. */
  users(tenant: string): Promise<UserList> {
    return this.request('GET', `/api/v1/operator/tenants/${encodeURIComponent(tenant)}/users`);
  }

  /** Adds a web user to a tenant (id or name); without a password the answer carries a generated one. */
  addUser(tenant: string, request: CreateUserRequest): Promise<UserCreated> {
    return this.request('POST', `/api/v1/operator/tenants/${encodeURIComponent(tenant)}/users`, request);
  }

  /** What installing a version (the latest by default) asks consent for. */
  consent(extensionId: string, version?: string): Promise<Consent> {
    const q = version ? `?version=${encodeURIComponent(version)}` : '';
    return this.request('GET', `/api/v1/extensions/${encodeURIComponent(extensionId)}/consent${q}`);
  }

  install(input: { extensionId: string; version?: string; grant?: string[] }): Promise<InstallView> {
    return this.request('POST', '/api/v1/installs', input);
  }

  uninstall(extensionId: string): Promise<void> {
    return this.request('DELETE', `/api/v1/installs/${encodeURIComponent(extensionId)}`);
  }

  getInstall(extensionId: string): Promise<InstallView> {
    return this.request('GET', `/api/v1/installs/${encodeURIComponent(extensionId)}`);
  }

  deleteSecret(extensionId: string, key: string): Promise<{ key: string; set: false; secretsVersion: number }> {
    return this.request(
      'DELETE',
      `/api/v1/installs/${encodeURIComponent(extensionId)}/secrets/${encodeURIComponent(key)}`,
    );
  }

  /** `expiresAt`: ISO time after which the guest reads `expired`; omitted, the secret never expires. */
  setSecret(extensionId: string, key: string, value: string, expiresAt?: string): Promise<unknown> {
    return this.request(
      'PUT',
      `/api/v1/installs/${encodeURIComponent(extensionId)}/secrets/${encodeURIComponent(key)}`,
      { value, ...(expiresAt ? { expiresAt } : {}) },
    );
  }

  /** Replaces the hosts granted to the install beyond its manifest's allowedHosts. */
  setEgressGrants(extensionId: string, hosts: string[]): Promise<{ hosts: string[] }> {
    return this.request('PUT', `/api/v1/installs/${encodeURIComponent(extensionId)}/egress`, { hosts });
  }

  setConfig(extensionId: string, config: Record<string, unknown>): Promise<unknown> {
    return this.request('PUT', `/api/v1/installs/${encodeURIComponent(extensionId)}/config`, { config });
  }
}

export interface InstallView {
  install: {
    id: string;
    extensionId: string;
    version: string;
    grantedCapabilities?: string[];
    egressGrants?: string[];
  };
  config?: Record<string, unknown>;
  secrets?: { key: string; set: boolean; version?: number | null }[];
  /** Required secrets the installed version does not get: never set, or undelivered. */
  missingSecrets?: string[];
  /** Stored secrets not delivered to the installed version: undeclared, or declared with looser egress limits. */
  undeliveredSecrets?: string[];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
