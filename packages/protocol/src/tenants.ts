/**
 * Tenants and their people, as the platform operator manages them under
 * `/api/v1/operator/tenants` (operator key only; `alga tenants`, `alga users`).
 * A new tenant gets one admin API key, shown once; a new user gets a password
 * the operator chose or one the server generated, also shown once.
 */
import { Type, type Static } from 'typebox';
import type { UserRole } from './web-api.ts';

/**
 * Characters a name shown to people may not hold: control characters, and the
 * bidirectional overrides and isolates that make text display other than it
 * reads (U+202A–U+202E, U+2066–U+2069). For a JSON Schema pattern's class.
 */
export const NOT_DISPLAY_TEXT = '\\x00-\\x1f\\x7f\\u202a-\\u202e\\u2066-\\u2069';

/** A tenant's name: what `--tenant` and policy accept besides its id. Not a UUID, so the two never collide. */
export const TenantNameSchema = Type.String({
  minLength: 1,
  maxLength: 200,
  // No surrounding spaces and no control characters; a UUID would read as an id.
  pattern: `^(?![0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)[^\\s${NOT_DISPLAY_TEXT}](?:[^${NOT_DISPLAY_TEXT}]*[^\\s${NOT_DISPLAY_TEXT}])?$`,
});

/** `POST /api/v1/operator/tenants`. */
export const CreateTenantRequestSchema = Type.Object({ name: TenantNameSchema }, { additionalProperties: false });
export type CreateTenantRequest = Static<typeof CreateTenantRequestSchema>;

export interface TenantInfo {
  id: string;
  name: string;
  createdAt: string;
}

/** `POST /api/v1/operator/tenants` → 201. The key is the tenant's first admin key; only its hash is kept. */
export interface TenantCreated {
  tenant: TenantInfo;
  keyId: string;
  apiKey: string;
}

/** `GET /api/v1/operator/tenants`, by name. */
export interface TenantList {
  tenants: TenantInfo[];
}

/** Who may sign in to the web UI: staff (`admin`, `viewer`) and a client's people (`client`, the client portal). */
export const USER_ROLES = ['admin', 'viewer', 'client'] as const satisfies readonly UserRole[];

/** Shorter passwords are refused when the operator chooses one; a generated one has 144 random bits. */
export const MIN_PASSWORD_LENGTH = 12;

/**
 * `POST /api/v1/operator/tenants/:tenant/users` (`:tenant` is an id or a name).
 * `clientId` is required for the `client` role and refused for staff.
 * Without `password` the server generates one and answers it once.
 */
export const CreateUserRequestSchema = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320, pattern: '^[^\\s@]+@[^\\s@]+$' }),
    role: Type.Union([Type.Literal('admin'), Type.Literal('viewer'), Type.Literal('client')]),
    name: Type.Optional(Type.String({ maxLength: 200, pattern: `^[^${NOT_DISPLAY_TEXT}]*$` })),
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S+$' })),
    password: Type.Optional(Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export type CreateUserRequest = Static<typeof CreateUserRequestSchema>;

export interface UserInfo {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  /** The client a `client` user belongs to (user-v2's client-id); null for staff. */
  clientId: string | null;
  createdAt: string;
}

/** `POST …/users` → 201. `password` only when the server generated it: shown once, never stored in the clear. */
export interface UserCreated {
  tenant: { id: string; name: string };
  user: UserInfo;
  password?: string;
}

/** `GET /api/v1/operator/tenants/:tenant/users`, by email. */
export interface UserList {
  tenant: { id: string; name: string };
  users: UserInfo[];
}
