/**
 * Web UI users and sessions. Passwords are scrypt-hashed with a per-user salt
 * and compared in constant time; a session is an opaque 256-bit token in an
 * HttpOnly cookie of which only the sha256 is stored. Tenant and role always
 * come from the user row behind the session, never from the request.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { UserRole } from '@alga-psa/protocol';
import type { Queryable } from '../db/index.ts';

export interface SessionUser {
  sessionId: string;
  userId: string;
  tenantId: string;
  /** The tenant's display name: the company extensions see as the user's `client-name`. */
  tenantName: string;
  email: string;
  name: string;
  role: UserRole;
  /** The client a client-portal user belongs to; null for staff. */
  clientId: string | null;
  expiresAt: Date;
}

/** Sliding idle timeout; a session older than SESSION_MAX_AGE_MS ends regardless. */
export const SESSION_IDLE_MS = 8 * 60 * 60 * 1000;
export const SESSION_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

// OWASP's scrypt floor (N=2^17 is better but costs 128 MiB per sign-in on a shared box).
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32 } as const;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

function scrypt(password: string, salt: Buffer, options: ScryptOptions & { keylen: number }): Promise<Buffer> {
  const { keylen, ...rest } = options;
  return new Promise((resolve, reject) =>
    scryptCallback(password.normalize('NFKC'), salt, keylen, { ...rest, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    keylen: expected.length,
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

// Verified against when the email is unknown, so both failures cost one scrypt.
let dummyHash: Promise<string> | undefined;

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

export async function createUser(
  db: Queryable,
  options: { tenantId: string; email: string; role: UserRole; password: string; name?: string; clientId?: string },
): Promise<{ userId: string }> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (tenant_id, email, name, role, password_hash, client_id)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [
      options.tenantId,
      options.email.toLowerCase(),
      options.name ?? '',
      options.role,
      await hashPassword(options.password),
      // The schema insists: a client-portal user has a client, staff have none.
      options.clientId ?? null,
    ],
  );
  return { userId: rows[0]!.id };
}

/** The demo client-portal user's client, as extensions see it (user-v2's client-id). */
export const DEMO_CLIENT_ID = 'demo-client';

/**
 * The demo tenant's people: an admin, a viewer and a client-portal user, with
 * random passwords the caller hands over through the 0600 bootstrap file
 * (never stdout or logs).
 */
export async function createDemoUsers(
  db: Queryable,
  tenantId: string,
): Promise<{
  adminEmail: string;
  adminPassword: string;
  viewerEmail: string;
  viewerPassword: string;
  clientEmail: string;
  clientPassword: string;
}> {
  const adminPassword = randomPassword();
  const viewerPassword = randomPassword();
  const clientPassword = randomPassword();
  await createUser(db, {
    tenantId,
    email: 'admin@demo.local',
    name: 'Demo Admin',
    role: 'admin',
    password: adminPassword,
  });
  await createUser(db, {
    tenantId,
    email: 'viewer@demo.local',
    name: 'Demo Viewer',
    role: 'viewer',
    password: viewerPassword,
  });
  await createUser(db, {
    tenantId,
    email: 'client@demo.local',
    name: 'Demo Client User',
    role: 'client',
    clientId: DEMO_CLIENT_ID,
    password: clientPassword,
  });
  return {
    adminEmail: 'admin@demo.local',
    adminPassword,
    viewerEmail: 'viewer@demo.local',
    viewerPassword,
    clientEmail: 'client@demo.local',
    clientPassword,
  };
}

/**
 * Checks an email + password. Emails are unique per tenant only, so every
 * user with that email is tried; exactly one must match. Returns the user id.
 */
export async function verifyCredentials(db: Queryable, email: string, password: string): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string; password_hash: string }>(
    'SELECT id, password_hash FROM users WHERE lower(email) = lower($1) AND password_hash IS NOT NULL',
    [email.trim()],
  );
  if (rows.length === 0) {
    dummyHash ??= hashPassword(randomPassword());
    await verifyPassword(password, await dummyHash);
    return undefined;
  }
  const matches: string[] = [];
  for (const row of rows) if (await verifyPassword(password, row.password_hash)) matches.push(row.id);
  return matches.length === 1 ? matches[0] : undefined;
}

/** Starts a session; the returned token goes into the cookie and nowhere else. */
export async function createSession(db: Queryable, userId: string): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + SESSION_IDLE_MS);
  await db.query('INSERT INTO ui_sessions (token_sha256, user_id, expires_at) VALUES ($1, $2, $3)', [
    sha256Hex(token),
    userId,
    expiresAt,
  ]);
  return { token, expiresAt };
}

/** The signed-in user behind a cookie value, or undefined (unknown, expired or malformed). */
export async function resolveSession(db: Queryable, token: string | undefined): Promise<SessionUser | undefined> {
  if (!token || !TOKEN_RE.test(token)) return undefined;
  const { rows } = await db.query<{
    id: string;
    user_id: string;
    tenant_id: string;
    tenant_name: string;
    email: string;
    name: string;
    role: UserRole;
    client_id: string | null;
    expires_at: Date;
    refresh: boolean;
  }>(
    `SELECT s.id, s.user_id, u.tenant_id, t.name AS tenant_name, u.email, u.name, u.role, u.client_id, s.expires_at,
            (s.last_seen_at < now() - interval '1 minute') AS refresh
       FROM ui_sessions s JOIN users u ON u.id = s.user_id JOIN tenants t ON t.id = u.tenant_id
      WHERE s.token_sha256 = $1 AND s.expires_at > now()
        AND s.created_at > now() - ($2::int * interval '1 millisecond')`,
    [sha256Hex(token), SESSION_MAX_AGE_MS],
  );
  const row = rows[0];
  if (!row) return undefined;
  let expiresAt = row.expires_at;
  // Throttled like API keys' last use: an active browser does not write on every request.
  if (row.refresh) {
    expiresAt = new Date(Date.now() + SESSION_IDLE_MS);
    await db.query('UPDATE ui_sessions SET last_seen_at = now(), expires_at = $2 WHERE id = $1', [row.id, expiresAt]);
  }
  return {
    sessionId: row.id,
    userId: row.user_id,
    tenantId: row.tenant_id,
    tenantName: row.tenant_name,
    email: row.email,
    name: row.name,
    role: row.role,
    clientId: row.client_id,
    expiresAt,
  };
}

export async function deleteSession(db: Queryable, token: string | undefined): Promise<void> {
  if (!token || !TOKEN_RE.test(token)) return;
  await db.query('DELETE FROM ui_sessions WHERE token_sha256 = $1', [sha256Hex(token)]);
}

/** The tenant's display name ('' when it is gone). */
export async function tenantName(db: Queryable, tenantId: string): Promise<string> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [tenantId]);
  return rows[0]?.name ?? '';
}

/** Housekeeping: expired rows are useless; called on sign-in so the table does not grow forever. */
export async function deleteExpiredSessions(db: Queryable): Promise<void> {
  await db.query('DELETE FROM ui_sessions WHERE expires_at < now()');
}
