/**
 * API keys: `alga_sk_<id>_<secret>`. The id is a lookup handle (shown in
 * listings and audit rows); only sha256(secret) is stored. The tenant and role
 * come from the key row alone, never from anything else in the request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Role, UserRole } from '@alga-psa/protocol';
import type { Db, Queryable } from '../db/index.ts';
import { apiKeyInvalid, apiKeyMalformed, viewerKeyWrite } from '../errors.ts';

export type { Role } from '@alga-psa/protocol';

export interface Principal {
  tenantId: string;
  /** An API key's is admin or viewer; `client` only for a client-portal user's session at the gateway. */
  role: UserRole;
  keyId: string;
  /** How audit rows name who acted. */
  actor: string;
}

const KEY_RE = /^alga_sk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export async function createApiKey(
  db: Queryable,
  options: { tenantId: string; role: Role; name?: string },
): Promise<{ keyId: string; apiKey: string }> {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  await db.query(
    'INSERT INTO api_keys (id, tenant_id, name, role, secret_sha256, prefix) VALUES ($1, $2, $3, $4, $5, $6)',
    [
      keyId,
      options.tenantId,
      options.name ?? `${options.role} key`,
      options.role,
      sha256Hex(secret),
      `alga_sk_${keyId}`,
    ],
  );
  return { keyId, apiKey: `alga_sk_${keyId}_${secret}` };
}

interface NewTenant {
  name: string;
  role?: Role;
  keyName?: string;
}

/** Inserts a tenant and its first API key, in the caller's transaction (the operator's adds its audit row). */
export async function insertTenantWithKey(
  tx: Queryable,
  options: NewTenant,
): Promise<{ tenantId: string; createdAt: Date | string; keyId: string; apiKey: string }> {
  const { rows } = await tx.query<{ id: string; created_at: Date | string }>(
    'INSERT INTO tenants (name) VALUES ($1) RETURNING id, created_at',
    [options.name],
  );
  const { id: tenantId, created_at: createdAt } = rows[0]!;
  const key = await createApiKey(tx, { tenantId, role: options.role ?? 'admin', name: options.keyName });
  return { tenantId, createdAt, ...key };
}

/** Creates a tenant and its first API key in one transaction. */
export function createTenantWithKey(
  db: Db,
  options: NewTenant,
): Promise<{ tenantId: string; createdAt: Date | string; keyId: string; apiKey: string }> {
  return db.transaction((tx) => insertTenantWithKey(tx, options));
}

interface KeyRow {
  tenant_id: string;
  role: Role;
  secret_sha256: string;
}

/**
 * How long a successful key lookup is reused. A busy key would otherwise
 * cost a database query per request (~0.4 ms on PGlite: the gateway's
 * largest cost in the benchmark); a key revoked in the database stops
 * working within this time. Only the stored hash is kept, never a secret.
 */
export const API_KEY_CACHE_TTL_MS = 5000;

/** One cache per database handle, so it lives and dies with the server that opened it. */
const keyCaches = new WeakMap<Queryable, LRUCache<string, KeyRow>>();

function keyCache(db: Queryable): LRUCache<string, KeyRow> {
  let cache = keyCaches.get(db);
  if (!cache) {
    cache = new LRUCache<string, KeyRow>({ max: 10_000, ttl: API_KEY_CACHE_TTL_MS });
    keyCaches.set(db, cache);
  }
  return cache;
}

/** Resolves an Authorization header to a principal, or throws 401. */
export async function authenticateApiKey(db: Queryable, authorization: string | undefined): Promise<Principal> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!match) throw apiKeyMalformed();
  // A key was sent but is not one of ours (cut short when copied, another service's): "not valid", not "send one".
  const parsed = KEY_RE.exec(match[1]!);
  if (!parsed) throw apiKeyInvalid();
  const [, keyId, secret] = parsed as unknown as [string, string, string];
  const cache = keyCache(db);
  let row: KeyRow | undefined = cache.get(keyId);
  let stale = false;
  if (!row) {
    const { rows } = await db.query<KeyRow & { stale: boolean }>(
      `SELECT tenant_id, role, secret_sha256,
              (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
         FROM api_keys WHERE id = $1 AND revoked_at IS NULL`,
      [keyId],
    );
    row = rows[0];
    stale = rows[0]?.stale ?? false;
  }
  // Hash even when the id is unknown so both failures take the same time.
  const presented = Buffer.from(sha256Hex(secret), 'hex');
  const expected = Buffer.from(row?.secret_sha256 ?? '0'.repeat(64), 'hex');
  if (!row || !timingSafeEqual(presented, expected)) throw apiKeyInvalid();
  // Remembered only once the secret matched, so an unknown or mistyped key never fills the cache.
  if (!cache.has(keyId))
    cache.set(keyId, { tenant_id: row.tenant_id, role: row.role, secret_sha256: row.secret_sha256 });
  // Throttled so a busy key does not turn every request into a write.
  if (stale) await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [keyId]);
  return { tenantId: row.tenant_id, role: row.role, keyId, actor: `api_key:${keyId}` };
}

/** Drops a key from this process's cache, so a revocation takes effect here at once (elsewhere within the TTL). */
export function forgetApiKey(db: Queryable, keyId: string): void {
  keyCaches.get(db)?.delete(keyId);
}

export function requireAdmin(principal: Principal): void {
  if (principal.role !== 'admin') throw viewerKeyWrite();
}
