/**
 * The runner's HTTP contract: `POST /v1/execute` and `POST /v1/prepare`.
 * Each schema is both the TypeScript type (`Static`) and the JSON Schema
 * the runner validates a request body with, so the two cannot drift. Field
 * names follow the reference runner's request (snake_case) where it has one.
 */
import { Type, type Static } from 'typebox';

export const HEADER_CONFIG_VERSION = 'x-ext-config-version';
export const HEADER_SECRETS_VERSION = 'x-ext-secrets-version';
export const HEADER_REQUEST_ID = 'x-request-id';

/** The runner's routes. */
export const RUNNER_ROUTES = {
  execute: '/v1/execute',
  prepare: '/v1/prepare',
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
} as const;

/** The `alga-runner` token scope each runner route requires. */
export const RUNNER_SCOPES = { execute: 'execute', prepare: 'prepare' } as const;

const CONTENT_HASH = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });

/**
 * An install's secrets as they travel from the server to a runner: one
 * ciphertext per key, each bound (as AEAD context) to tenant, install and key,
 * so a ciphertext copied to another install or key fails to decrypt.
 */
export const SecretEnvelopeSchema = Type.Object({
  /** Changes whenever any secret of the install changes. */
  version: Type.String({ minLength: 1 }),
  algorithm: Type.Literal('aes-256-gcm'),
  /** Which transit key encrypted the values (`local:<name>` or `vault:<mount>/<name>`). */
  key_ref: Type.String(),
  /** ISO time after which the runner refuses to decrypt (answers `expired`). */
  expires_at: Type.Union([Type.String(), Type.Null()]),
  ciphertexts: Type.Record(Type.String(), Type.String()),
  /** Per key: ISO time after which that key answers `expired` (a secret set with an expiry). */
  key_expires_at: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type SecretEnvelope = Static<typeof SecretEnvelopeSchema>;

/**
 * A publisher's detached signature over a bundle (`@alga-psa/service-auth/bundle-signature`).
 * The runner checks it against its OWN trusted keys before compiling: the
 * server only carries it, so a tampered database cannot vouch for a bundle.
 */
export const BundleSignatureSchema = Type.Object({
  format: Type.Literal('alga-bundle-signature/v1'),
  algorithm: Type.Literal('ed25519'),
  keyId: Type.String({ maxLength: 100 }),
  contentHash: CONTENT_HASH,
  manifestDigest: CONTENT_HASH,
  signature: Type.String({ maxLength: 200 }),
});
export type BundleSignatureWire = Static<typeof BundleSignatureSchema>;

export const ExecuteContextSchema = Type.Object({
  request_id: Type.String({ maxLength: 200 }),
  tenant_id: Type.String({ minLength: 1, maxLength: 200 }),
  extension_id: Type.String({ minLength: 1, maxLength: 200 }),
  install_id: Type.String({ minLength: 1, maxLength: 200 }),
  version_id: Type.String({ maxLength: 200 }),
  /** `sha256:<hex>` of the component bytes. */
  content_hash: CONTENT_HASH,
});
export type ExecuteContext = Static<typeof ExecuteContextSchema>;

export const ExecuteHttpSchema = Type.Object({
  method: Type.String({ minLength: 1, maxLength: 16 }),
  /** Path below the extension's mount point, starting with `/`. */
  path: Type.String({ pattern: '^/' }),
  /** Raw query string without the leading `?` (may be empty). */
  query: Type.String(),
  headers: Type.Record(Type.String(), Type.String()),
  body_b64: Type.Union([Type.String(), Type.Null()]),
});
export type ExecuteHttp = Static<typeof ExecuteHttpSchema>;

export const ExecuteLimitsSchema = Type.Object({
  timeout_ms: Type.Optional(Type.Integer({ minimum: 1 })),
  memory_mb: Type.Optional(Type.Integer({ minimum: 1 })),
});
export type ExecuteLimits = Static<typeof ExecuteLimitsSchema>;

/** What the guest may reach through the http capability (from the manifest). */
export const ExecuteEgressSchema = Type.Object({
  /** Manifest `allowedHosts` entries: `host`, `host:port`, or `https://host[:port][/path-prefix]`. */
  allowed_hosts: Type.Array(Type.String({ maxLength: 512 }), { maxItems: 256 }),
});
export type ExecuteEgress = Static<typeof ExecuteEgressSchema>;

/**
 * The user a request is made for, when the gateway knows one (a browser
 * session). The tenant is the context's: a user record never names it.
 */
export const ExecuteUserSchema = Type.Object({
  user_id: Type.String({ minLength: 1, maxLength: 200 }),
  user_email: Type.Optional(Type.String({ maxLength: 320 })),
  user_name: Type.Optional(Type.String({ maxLength: 400 })),
  user_type: Type.Optional(Type.String({ maxLength: 100 })),
  client_name: Type.Optional(Type.String({ maxLength: 400 })),
  /** The client (customer) a client-portal user belongs to; `user-v2` shows it. */
  client_id: Type.Optional(Type.String({ maxLength: 200 })),
});
export type ExecuteUser = Static<typeof ExecuteUserSchema>;

export const ExecuteRequestSchema = Type.Object({
  context: ExecuteContextSchema,
  egress: Type.Optional(ExecuteEgressSchema),
  config: Type.Record(Type.String(), Type.Unknown()),
  config_version: Type.Optional(Type.String()),
  /** Granted capability ids; the runner refuses ids it does not know. */
  providers: Type.Array(Type.String(), { maxItems: 64 }),
  secret_envelope: Type.Union([SecretEnvelopeSchema, Type.Null()]),
  /**
   * Secret key → the hosts (manifest `egress`, `secret-egress.ts`) it may be
   * sent to. Such a secret is never read by the guest: `get` refuses it and
   * `handle` answers a placeholder the http provider substitutes.
   */
  secret_egress: Type.Optional(
    Type.Record(Type.String({ maxLength: 64 }), Type.Array(Type.String({ maxLength: 260 }), { maxItems: 16 })),
  ),
  http: ExecuteHttpSchema,
  limits: Type.Optional(ExecuteLimitsSchema),
  user: Type.Optional(ExecuteUserSchema),
  /**
   * A short-lived `alga-server` service token (scope `storage logs`) for this
   * request's tenant and install, which the runner presents when it calls the
   * server on the guest's behalf. Never logged, never shown to the guest.
   */
  server_token: Type.Optional(Type.String({ maxLength: 4096 })),
  /** The version's publisher signature, when it has one (verified by the runner, not trusted from here). */
  bundle_signature: Type.Optional(Type.Union([BundleSignatureSchema, Type.Null()])),
});
export type ExecuteRequest = Static<typeof ExecuteRequestSchema>;

/**
 * A guest answers with a final status. A 1xx is interim: relayed, the client
 * would take the next response on the connection as this request's.
 */
export const GUEST_STATUS = { min: 200, max: 599 } as const;

export function isGuestStatus(status: unknown): status is number {
  return Number.isInteger(status) && (status as number) >= GUEST_STATUS.min && (status as number) <= GUEST_STATUS.max;
}

// node:http's rules (validateHeaderName / validateHeaderValue), as predicates: they throw, and this package runs in browsers too.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE_FORBIDDEN = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Most bytes of a guest's response headers (names, values, separators); a header past it is
 * dropped. Node's and curl's clients read 16 KiB of headers at most, and the gateway adds its own.
 */
export const MAX_GUEST_HEADER_BYTES = 12 * 1024;

/** Whether Node can send this header: a token name, a value with no control character (CR, LF, NUL) or char above U+00FF. */
export function isSendableHeader(name: string, value: string): boolean {
  return HEADER_NAME.test(name) && !HEADER_VALUE_FORBIDDEN.test(value);
}

export const ExecuteResponseSchema = Type.Object({
  status: Type.Integer({ minimum: GUEST_STATUS.min, maximum: GUEST_STATUS.max }),
  headers: Type.Record(Type.String(), Type.String()),
  body_b64: Type.Union([Type.String(), Type.Null()]),
});
export type ExecuteResponse = Static<typeof ExecuteResponseSchema>;

/** Load and compile a bundle ahead of its first request (sent by the server on install and upgrade). */
export const PrepareRequestSchema = Type.Object(
  {
    content_hash: CONTENT_HASH,
    memory_mb: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Checked before compiling, as on execute. */
    bundle_signature: Type.Optional(Type.Union([BundleSignatureSchema, Type.Null()])),
  },
  { additionalProperties: false },
);
export type PrepareRequest = Static<typeof PrepareRequestSchema>;

export const PrepareResponseSchema = Type.Object({
  status: Type.Literal('prepared'),
  content_hash: Type.String(),
  ms: Type.Integer(),
});
export type PrepareResponse = Static<typeof PrepareResponseSchema>;

/** The AEAD context that binds a secret's ciphertext to its owner. */
export function secretAad(tenantId: string, installId: string, key: string): string {
  return JSON.stringify(['alga-secret/v1', tenantId, installId, key]);
}
