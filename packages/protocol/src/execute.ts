/**
 * The runner's `POST /v1/execute` contract. Field names follow the reference
 * runner's request (snake_case on the wire) where it has one.
 */

export const HEADER_CONFIG_VERSION = 'x-ext-config-version';
export const HEADER_SECRETS_VERSION = 'x-ext-secrets-version';
export const HEADER_REQUEST_ID = 'x-request-id';

/**
 * An install's secrets as they travel from the server to a runner: one
 * ciphertext per key, each bound (as AEAD context) to tenant, install and key,
 * so a ciphertext copied to another install or key fails to decrypt.
 */
export interface SecretEnvelope {
  /** Changes whenever any secret of the install changes. */
  version: string;
  algorithm: 'aes-256-gcm';
  /** Which transit key encrypted the values (`local:<name>` or `vault:<mount>/<name>`). */
  key_ref: string;
  /** ISO time after which the runner refuses to decrypt (answers `expired`). */
  expires_at: string | null;
  ciphertexts: Record<string, string>;
}

export interface ExecuteContext {
  request_id: string;
  tenant_id: string;
  extension_id: string;
  install_id: string;
  version_id: string;
  /** `sha256:<hex>` of the component bytes. */
  content_hash: string;
}

export interface ExecuteHttp {
  method: string;
  /** Path below the extension's mount point, starting with `/`. */
  path: string;
  /** Raw query string without the leading `?` (may be empty). */
  query: string;
  headers: Record<string, string>;
  body_b64: string | null;
}

export interface ExecuteLimits {
  timeout_ms?: number;
  memory_mb?: number;
}

/** What the guest may reach through the http capability (from the manifest). */
export interface ExecuteEgress {
  /** Manifest `allowedHosts` entries: `host`, `host:port`, or `https://host[:port][/path-prefix]`. */
  allowed_hosts: string[];
}

/**
 * The user a request is made for, when the gateway knows one (a browser
 * session). The tenant is the context's: a user record never names it.
 */
export interface ExecuteUser {
  user_id: string;
  user_email?: string;
  user_name?: string;
  user_type?: string;
  client_name?: string;
}

export interface ExecuteRequest {
  context: ExecuteContext;
  egress?: ExecuteEgress;
  config: Record<string, unknown>;
  config_version?: string;
  providers: string[];
  secret_envelope: SecretEnvelope | null;
  http: ExecuteHttp;
  limits?: ExecuteLimits;
  user?: ExecuteUser;
  /**
   * A short-lived `alga-server` service token (scope `storage logs`) for this
   * request's tenant and install, which the runner presents when it calls the
   * server on the guest's behalf. Never logged, never shown to the guest.
   */
  server_token?: string;
}

export interface ExecuteResponse {
  status: number;
  headers: Record<string, string>;
  body_b64: string | null;
}

/** The AEAD context that binds a secret's ciphertext to its owner. */
export function secretAad(tenantId: string, installId: string, key: string): string {
  return JSON.stringify(['alga-secret/v1', tenantId, installId, key]);
}
