/**
 * Reads and writes around an install that routes and the gateway share. Every
 * lookup is keyed by (tenant from the credential, extension id), so a tenant
 * can never name another tenant's install.
 */
import type { Manifest } from '@alga-psa/protocol';
import type { Queryable } from '../db/index.ts';

export interface InstallRow {
  id: string;
  tenantId: string;
  extensionId: string;
  version: string;
  versionId: string;
  contentHash: string;
  grantedCapabilities: string[];
  enabled: boolean;
  secretsVersion: number;
  secretsExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  manifest: Manifest;
}

interface RawInstall {
  id: string;
  tenant_id: string;
  extension_id: string;
  version: string;
  version_id: string;
  content_hash: string;
  granted_capabilities: string[];
  enabled: boolean;
  secrets_version: number;
  secrets_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  manifest: Manifest;
}

export async function findInstall(
  db: Queryable,
  tenantId: string,
  extensionId: string,
): Promise<InstallRow | undefined> {
  const { rows } = await db.query<RawInstall>(
    `SELECT i.id, i.tenant_id, i.extension_id, i.version, v.id AS version_id, v.content_hash,
            i.granted_capabilities, i.enabled, i.secrets_version, i.secrets_expires_at,
            i.created_at, i.updated_at, v.manifest
       FROM installs i
       JOIN extension_versions v ON v.extension_id = i.extension_id AND v.version = i.version
      WHERE i.tenant_id = $1 AND i.extension_id = $2`,
    [tenantId, extensionId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    extensionId: row.extension_id,
    version: row.version,
    versionId: row.version_id,
    contentHash: row.content_hash,
    grantedCapabilities: row.granted_capabilities,
    enabled: row.enabled,
    secretsVersion: row.secrets_version,
    secretsExpiresAt: row.secrets_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    manifest: row.manifest,
  };
}

/** The install as clients see it. */
export function installView(install: InstallRow) {
  return {
    id: install.id,
    extensionId: install.extensionId,
    version: install.version,
    contentHash: install.contentHash,
    grantedCapabilities: install.grantedCapabilities,
    enabled: install.enabled,
    createdAt: install.createdAt.toISOString(),
    updatedAt: install.updatedAt.toISOString(),
  };
}

export async function loadConfig(
  db: Queryable,
  installId: string,
): Promise<{ config: Record<string, unknown>; version: number }> {
  const { rows } = await db.query<{ config: Record<string, unknown>; version: number }>(
    'SELECT config, version FROM install_config WHERE install_id = $1',
    [installId],
  );
  return rows[0] ?? { config: {}, version: 0 };
}

export interface SecretMeta {
  key: string;
  set: boolean;
  version: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

/**
 * One entry per declared secret setting (set or not), plus any stored key the
 * current manifest no longer declares, so nothing stored is invisible.
 * Deliberately selects no ciphertext column.
 */
export async function listSecretMeta(db: Queryable, install: InstallRow): Promise<SecretMeta[]> {
  const { rows } = await db.query<{ key: string; version: number; updated_at: Date; updated_by: string | null }>(
    'SELECT key, version, updated_at, updated_by FROM install_secrets WHERE install_id = $1 ORDER BY key',
    [install.id],
  );
  const stored = new Map(rows.map((row) => [row.key, row]));
  const declared = install.manifest.settings.filter((setting) => setting.secret).map((setting) => setting.key);
  const keys = [...new Set([...declared, ...stored.keys()])];
  return keys.map((key) => {
    const row = stored.get(key);
    return row
      ? { key, set: true, version: row.version, updatedAt: row.updated_at.toISOString(), updatedBy: row.updated_by }
      : { key, set: false, version: null, updatedAt: null, updatedBy: null };
  });
}

/** Required secret settings that have no value yet: the install will not work until they are set. */
export function missingSecrets(install: Pick<InstallRow, 'manifest'>, secrets: SecretMeta[]): string[] {
  const set = new Set(secrets.filter((secret) => secret.set).map((secret) => secret.key));
  return install.manifest.settings.filter((s) => s.secret && s.required && !set.has(s.key)).map((s) => s.key);
}

export interface AuditEntry {
  actor: string;
  tenantId: string | null;
  installId?: string | null;
  action: string;
  keyNames?: string[];
  version?: number | null;
  requestId?: string;
}

/** Names and versions only: an audit row never holds a value or ciphertext. */
export async function audit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (actor, tenant_id, install_id, action, key_names, version, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      entry.actor,
      entry.tenantId,
      entry.installId ?? null,
      entry.action,
      entry.keyNames ?? [],
      entry.version ?? null,
      entry.requestId ?? null,
    ],
  );
}

/**
 * The install a runner's service token names. Keyed by (tenant, install id)
 * from the verified token, so a token for one tenant never resolves another's.
 */
export async function findInstallById(
  db: Queryable,
  tenantId: string,
  installId: string,
): Promise<InstallRow | undefined> {
  const { rows } = await db.query<{ extension_id: string }>(
    'SELECT extension_id FROM installs WHERE id::text = $1 AND tenant_id::text = $2',
    [installId, tenantId],
  );
  return rows[0] ? findInstall(db, tenantId, rows[0].extension_id) : undefined;
}
