/**
 * A tenant's API keys (`alga_sk_<id>_<secret>`): created, listed and revoked
 * by the tenant's admins under `/api/v1/api-keys` (`alga api-keys`), and by
 * the platform operator under `/api/v1/operator/tenants/:tenant/api-keys`
 * when a tenant has lost its admin keys. The secret is answered once.
 */
import { Type, type Static } from 'typebox';
import type { Role } from './web-api.ts';
import { NOT_DISPLAY_TEXT } from './tenants.ts';

/** `POST /api/v1/api-keys` and the operator's `POST …/tenants/:tenant/api-keys`. */
export const CreateApiKeyRequestSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: `^[^${NOT_DISPLAY_TEXT}]+$` }),
    role: Type.Union([Type.Literal('admin'), Type.Literal('viewer')]),
  },
  { additionalProperties: false },
);
export type CreateApiKeyRequest = Static<typeof CreateApiKeyRequestSchema>;

export interface ApiKeyInfo {
  /** The key's id: the lookup handle in `alga_sk_<id>_…`, shown in listings and audit rows. */
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  /** Updated at most once a minute. */
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** → 201. `apiKey` is the whole key, answered once; only a hash of its secret is kept. */
export interface ApiKeyCreated {
  key: ApiKeyInfo;
  apiKey: string;
}

/** `GET /api/v1/api-keys`: every key of the tenant, newest first, revoked ones included. */
export interface ApiKeyList {
  keys: ApiKeyInfo[];
}
