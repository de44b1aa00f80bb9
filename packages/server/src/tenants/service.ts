/**
 * The platform operator's tenants and their people: create a tenant (with its
 * first admin API key), list tenants, add a web user to a tenant, list a
 * tenant's users. Every change is one transaction with its audit row; keys and
 * passwords are answered once and only their hashes are stored.
 */
import type {
  CreateTenantRequest,
  CreateUserRequest,
  TenantCreated,
  TenantInfo,
  UserCreated,
  UserInfo,
  UserList,
  UserRole,
} from '@alga-psa/protocol';
import { insertTenantWithKey } from '../auth/api-keys.ts';
import { createUser, randomPassword } from '../auth/session.ts';
import type { Db, Queryable } from '../db/index.ts';
import { clientIdForStaff, clientIdRequired, noSuchTenant, tenantExists, userExists } from '../errors.ts';
import { insertAudit, UUID_RE, type AuditActor } from '../installs/store.ts';

/** PostgreSQL's unique_violation: another request created the same name first. */
const UNIQUE_VIOLATION = '23505';

/** A tenant by id or by name; 404 when neither matches. */
export async function findTenant(db: Queryable, idOrName: string): Promise<{ id: string; name: string }> {
  const { rows } = await db.query<{ id: string; name: string }>(
    UUID_RE.test(idOrName)
      ? 'SELECT id, name FROM tenants WHERE id = $1'
      : 'SELECT id, name FROM tenants WHERE name = $1',
    [idOrName],
  );
  if (!rows[0]) throw noSuchTenant({ tenant: idOrName });
  return rows[0];
}

const iso = (value: Date | string) => new Date(value).toISOString();

export async function listTenants(db: Queryable): Promise<TenantInfo[]> {
  const { rows } = await db.query<{ id: string; name: string; created_at: Date | string }>(
    'SELECT id, name, created_at FROM tenants ORDER BY name',
  );
  return rows.map((row) => ({ id: row.id, name: row.name, createdAt: iso(row.created_at) }));
}

export async function createTenant(db: Db, who: AuditActor, request: CreateTenantRequest): Promise<TenantCreated> {
  try {
    return await db.transaction(async (tx) => {
      // "acme" and "ACME" would be two tenants an operator cannot tell apart in a list.
      const taken = await tx.query<{ name: string }>('SELECT name FROM tenants WHERE lower(name) = lower($1)', [
        request.name,
      ]);
      if (taken.rows.length > 0) throw tenantExists({ name: taken.rows[0]!.name });
      const { tenantId, createdAt, keyId, apiKey } = await insertTenantWithKey(tx, {
        name: request.name,
        role: 'admin',
        keyName: 'first admin key (operator)',
      });
      await insertAudit(tx, {
        actor: who.actor,
        tenantId,
        action: 'tenant.create',
        keyNames: [keyId],
        requestId: who.requestId,
      });
      return { tenant: { id: tenantId, name: request.name, createdAt: iso(createdAt) }, keyId, apiKey };
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) throw tenantExists({ name: request.name });
    throw error;
  }
}

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  client_id: string | null;
  created_at: Date | string;
}

const USER_COLUMNS = 'id, email, name, role, client_id, created_at';

function userInfo(row: UserRow): UserInfo {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    clientId: row.client_id,
    createdAt: iso(row.created_at),
  };
}

export async function listUsers(db: Queryable, tenantIdOrName: string): Promise<UserList> {
  const tenant = await findTenant(db, tenantIdOrName);
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY email`, [
    tenant.id,
  ]);
  return { tenant, users: rows.map(userInfo) };
}

/** Adds a web user; without `password` one is generated and answered once. */
export async function addUser(
  db: Db,
  who: AuditActor,
  tenantIdOrName: string,
  request: CreateUserRequest,
): Promise<UserCreated> {
  // The schema refuses both mistakes too (users_client_id_check); these say what to do.
  if (request.role === 'client' && request.clientId === undefined) throw clientIdRequired();
  if (request.role !== 'client' && request.clientId !== undefined) throw clientIdForStaff({ role: request.role });
  const tenant = await findTenant(db, tenantIdOrName);
  const email = request.email.trim().toLowerCase();
  const password = request.password ?? randomPassword();
  try {
    const user = await db.transaction(async (tx) => {
      const taken = await tx.query('SELECT 1 FROM users WHERE tenant_id = $1 AND lower(email) = $2', [
        tenant.id,
        email,
      ]);
      if (taken.rows.length > 0) throw userExists({ tenant: tenant.name, email });
      const { userId } = await createUser(tx, {
        tenantId: tenant.id,
        email,
        role: request.role,
        password,
        ...(request.name === undefined ? {} : { name: request.name }),
        ...(request.clientId === undefined ? {} : { clientId: request.clientId }),
      });
      await insertAudit(tx, {
        actor: who.actor,
        tenantId: tenant.id,
        action: 'user.create',
        keyNames: [email, request.role],
        requestId: who.requestId,
      });
      const { rows } = await tx.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [userId]);
      return userInfo(rows[0]!);
    });
    return { tenant, user, ...(request.password === undefined ? { password } : {}) };
  } catch (error) {
    if ((error as { code?: unknown }).code === UNIQUE_VIOLATION) throw userExists({ tenant: tenant.name, email });
    throw error;
  }
}
