/**
 * A tenant's API keys over their life: issue (admin or viewer), list, revoke.
 * Every change is one transaction with its audit row. A revoked key stops
 * working in this process at once and in other server processes within the
 * key cache's TTL (API_KEY_CACHE_TTL_MS). A tenant's last active admin key
 * cannot be revoked: the tenant would be locked out of its own API.
 */
import type { ApiKeyCreated, ApiKeyInfo, CreateApiKeyRequest, Role } from '@alga-psa/protocol';
import type { Db, Queryable } from '../db/index.ts';
import { lastAdminKey, noSuchApiKey } from '../errors.ts';
import { insertAudit, type AuditActor } from '../installs/store.ts';
import { createApiKey, forgetApiKey } from './api-keys.ts';

interface KeyRow {
  id: string;
  name: string;
  role: Role;
  created_at: Date | string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}

const COLUMNS = 'id, name, role, created_at, last_used_at, revoked_at';
const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

function keyInfo(row: KeyRow): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    createdAt: iso(row.created_at)!,
    lastUsedAt: iso(row.last_used_at),
    revokedAt: iso(row.revoked_at),
  };
}

export async function listApiKeys(db: Queryable, tenantId: string): Promise<ApiKeyInfo[]> {
  const { rows } = await db.query<KeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`,
    [tenantId],
  );
  return rows.map(keyInfo);
}

export async function issueApiKey(
  db: Db,
  who: AuditActor,
  tenantId: string,
  request: CreateApiKeyRequest,
): Promise<ApiKeyCreated> {
  return db.transaction(async (tx) => {
    const { keyId, apiKey } = await createApiKey(tx, { tenantId, role: request.role, name: request.name });
    await insertAudit(tx, {
      actor: who.actor,
      tenantId,
      action: 'api_key.create',
      keyNames: [keyId, request.role],
      requestId: who.requestId,
    });
    const { rows } = await tx.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [keyId]);
    return { key: keyInfo(rows[0]!), apiKey };
  });
}

/** Revokes one of the tenant's keys; revoking a revoked key changes nothing and writes no audit row. */
export async function revokeApiKey(db: Db, who: AuditActor, tenantId: string, keyId: string): Promise<ApiKeyInfo> {
  const info = await db.transaction(async (tx) => {
    // Rows of this tenant's keys are locked so two revocations cannot each leave the other's key as the last admin.
    const { rows } = await tx.query<KeyRow>(
      `SELECT ${COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY id FOR UPDATE`,
      [tenantId],
    );
    const key = rows.find((row) => row.id === keyId);
    if (!key) throw noSuchApiKey({ keyId: keyId.slice(0, 40) });
    if (key.revoked_at !== null) return keyInfo(key);
    const admins = rows.filter((row) => row.role === 'admin' && row.revoked_at === null);
    if (key.role === 'admin' && admins.length === 1) throw lastAdminKey({ keyId });
    const updated = await tx.query<KeyRow>(
      `UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [keyId],
    );
    await insertAudit(tx, {
      actor: who.actor,
      tenantId,
      action: 'api_key.revoke',
      keyNames: [keyId],
      requestId: who.requestId,
    });
    return keyInfo(updated.rows[0]!);
  });
  forgetApiKey(db, keyId);
  return info;
}
