/** JSON schema of the protocol's `ExecuteRequest`, for Fastify's validator. */
export const executeRequestSchema = {
  type: 'object',
  required: ['context', 'config', 'providers', 'secret_envelope', 'http'],
  properties: {
    context: {
      type: 'object',
      required: ['request_id', 'tenant_id', 'extension_id', 'install_id', 'version_id', 'content_hash'],
      properties: {
        request_id: { type: 'string', maxLength: 200 },
        tenant_id: { type: 'string', minLength: 1, maxLength: 200 },
        extension_id: { type: 'string', minLength: 1, maxLength: 200 },
        install_id: { type: 'string', minLength: 1, maxLength: 200 },
        version_id: { type: 'string', maxLength: 200 },
        content_hash: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
      },
    },
    config: { type: 'object' },
    config_version: { type: 'string' },
    providers: { type: 'array', items: { type: 'string' }, maxItems: 64 },
    secret_envelope: {
      type: ['object', 'null'],
      required: ['version', 'algorithm', 'key_ref', 'expires_at', 'ciphertexts'],
      properties: {
        version: { type: 'string', minLength: 1 },
        algorithm: { const: 'aes-256-gcm' },
        key_ref: { type: 'string' },
        expires_at: { type: ['string', 'null'] },
        ciphertexts: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    http: {
      type: 'object',
      required: ['method', 'path', 'query', 'headers', 'body_b64'],
      properties: {
        method: { type: 'string', minLength: 1, maxLength: 16 },
        path: { type: 'string', pattern: '^/' },
        query: { type: 'string' },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        body_b64: { type: ['string', 'null'] },
      },
    },
    limits: {
      type: 'object',
      properties: {
        timeout_ms: { type: 'integer', minimum: 1 },
        memory_mb: { type: 'integer', minimum: 1 },
      },
    },
    user: {
      type: 'object',
      required: ['user_id'],
      properties: {
        user_id: { type: 'string', minLength: 1, maxLength: 200 },
        user_email: { type: 'string', maxLength: 320 },
        user_name: { type: 'string', maxLength: 400 },
        user_type: { type: 'string', maxLength: 100 },
        client_name: { type: 'string', maxLength: 400 },
      },
    },
    server_token: { type: 'string', maxLength: 4096 },
  },
} as const;
