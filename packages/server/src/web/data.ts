/**
 * Data functions only the web UI needs. Everything that already exists in
 * `data/installs.ts` (findInstall, loadConfig, listSecretMeta, audit, …) is
 * reused; what is here either addresses an install by its id (the UI's URLs
 * carry install ids) or writes several things in ONE transaction (save,
 * reset), which the per-resource API routes do not offer.
 */
import { DEFAULT_CAPABILITIES, settingsDefaults, type Manifest } from '@alga-psa/protocol';
import type { Db, Queryable } from '../db/index.ts';
import { audit, findInstall, loadConfig, type InstallRow } from '../data/installs.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Actor {
  tenantId: string;
  /** How audit rows name the person: `user:<email>`. */
  actor: string;
  requestId: string;
}

/** The install with this id in this tenant; undefined for another tenant's id exactly as for a made-up one. */
export async function findInstallById(
  db: Queryable,
  tenantId: string,
  installId: string,
): Promise<InstallRow | undefined> {
  // A malformed id would make PostgreSQL raise on the uuid cast: answer "not found" instead.
  if (!UUID_RE.test(installId)) return undefined;
  const { rows } = await db.query<{ extension_id: string }>(
    'SELECT extension_id FROM installs WHERE id = $1 AND tenant_id = $2',
    [installId, tenantId],
  );
  return rows[0] ? findInstall(db, tenantId, rows[0].extension_id) : undefined;
}

export interface InstallSummary {
  id: string;
  extensionId: string;
  version: string;
  enabled: boolean;
  manifest: Manifest;
  secretsSet: string[];
}

export async function listInstalls(db: Queryable, tenantId: string): Promise<InstallSummary[]> {
  const { rows } = await db.query<{
    id: string;
    extension_id: string;
    version: string;
    enabled: boolean;
    manifest: Manifest;
    secrets_set: string[];
  }>(
    `SELECT i.id, i.extension_id, i.version, i.enabled, v.manifest,
            coalesce(array_agg(s.key) FILTER (WHERE s.key IS NOT NULL), '{}') AS secrets_set
       FROM installs i
       JOIN extension_versions v ON v.extension_id = i.extension_id AND v.version = i.version
       LEFT JOIN install_secrets s ON s.install_id = i.id
      WHERE i.tenant_id = $1
      GROUP BY i.id, i.extension_id, i.version, i.enabled, v.manifest
      ORDER BY i.extension_id`,
    [tenantId],
  );
  return rows.map((row) => ({
    id: row.id,
    extensionId: row.extension_id,
    version: row.version,
    enabled: row.enabled,
    manifest: row.manifest,
    secretsSet: row.secrets_set,
  }));
}

/** A first install from the UI: the grant is exactly what the person consented to (checked by the caller). */
export async function createInstall(
  db: Db,
  who: Actor,
  found: { version: string; manifest: Manifest },
): Promise<string | undefined> {
  const granted = [...new Set([...found.manifest.capabilities, ...DEFAULT_CAPABILITIES])].sort();
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `INSERT INTO installs (tenant_id, extension_id, version, granted_capabilities) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, extension_id) DO NOTHING RETURNING id`,
      [who.tenantId, found.manifest.name, found.version, granted],
    );
    const installId = rows[0]?.id;
    if (!installId) return undefined;
    await tx.query(
      'INSERT INTO install_config (install_id, config, version, updated_by) VALUES ($1, $2::jsonb, 1, $3)',
      [installId, JSON.stringify(settingsDefaults(found.manifest)), who.actor],
    );
    await audit(tx, { ...who, installId, action: 'install.create', version: 1 });
    return installId;
  });
}

export async function setEnabled(db: Db, who: Actor, install: InstallRow, enabled: boolean): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('UPDATE installs SET enabled = $2, updated_at = now() WHERE id = $1', [install.id, enabled]);
    await audit(tx, { ...who, installId: install.id, action: enabled ? 'install.enable' : 'install.disable' });
  });
}

export async function deleteInstall(db: Db, who: Actor, install: InstallRow): Promise<void> {
  await db.transaction(async (tx) => {
    // Cascades to config, secrets and storage, as the API's DELETE does.
    await tx.query('DELETE FROM installs WHERE id = $1 AND tenant_id = $2', [install.id, who.tenantId]);
    await audit(tx, { ...who, installId: install.id, action: 'install.delete' });
  });
}

export interface SettingsWrite {
  config: Record<string, unknown>;
  /** Already encrypted by the caller (transit can fail; nothing is written then). */
  setSecrets: { key: string; ciphertext: string; keyRef: string }[];
  clearSecrets: string[];
}

/**
 * Writes config and secret changes in one transaction: either the whole form
 * is saved or none of it. Bumps config version only when the config changed,
 * and the install's secrets_version once when any secret changed.
 */
export async function saveSettings(
  db: Db,
  who: Actor,
  install: InstallRow,
  write: SettingsWrite,
): Promise<{ configVersion: number; secretsVersion: number }> {
  return db.transaction(async (tx) => {
    const previous = await loadConfig(tx, install.id);
    const changed = [...new Set([...Object.keys(previous.config), ...Object.keys(write.config)])].filter(
      (key) => JSON.stringify(previous.config[key]) !== JSON.stringify(write.config[key]),
    );
    let configVersion = previous.version;
    if (changed.length > 0) {
      const { rows } = await tx.query<{ version: number }>(
        `INSERT INTO install_config (install_id, config, version, updated_by) VALUES ($1, $2::jsonb, 1, $3)
         ON CONFLICT (install_id) DO UPDATE
           SET config = EXCLUDED.config, version = install_config.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
         RETURNING version`,
        [install.id, JSON.stringify(write.config), who.actor],
      );
      configVersion = rows[0]!.version;
      await audit(tx, {
        ...who,
        installId: install.id,
        action: 'config.update',
        keyNames: changed.sort(),
        version: configVersion,
      });
    }
    const secretKeysChanged: string[] = [];
    for (const secret of write.setSecrets) {
      await tx.query(
        `INSERT INTO install_secrets (install_id, key, ciphertext, key_ref, version, updated_by) VALUES ($1, $2, $3, $4, 1, $5)
         ON CONFLICT (install_id, key) DO UPDATE
           SET ciphertext = EXCLUDED.ciphertext, key_ref = EXCLUDED.key_ref, version = install_secrets.version + 1,
               updated_at = now(), updated_by = EXCLUDED.updated_by`,
        [install.id, secret.key, secret.ciphertext, secret.keyRef, who.actor],
      );
      secretKeysChanged.push(secret.key);
    }
    if (write.clearSecrets.length > 0) {
      const { rows } = await tx.query<{ key: string }>(
        'DELETE FROM install_secrets WHERE install_id = $1 AND key = ANY($2::text[]) RETURNING key',
        [install.id, write.clearSecrets],
      );
      secretKeysChanged.push(...rows.map((row) => row.key));
    }
    const secretsVersion = await bumpSecretsVersion(tx, install, secretKeysChanged, who);
    return { configVersion, secretsVersion };
  });
}

/** Config back to the manifest's defaults and every secret cleared, in one transaction. */
export async function resetSettings(
  db: Db,
  who: Actor,
  install: InstallRow,
): Promise<{ configVersion: number; secretsVersion: number }> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ version: number }>(
      `INSERT INTO install_config (install_id, config, version, updated_by) VALUES ($1, $2::jsonb, 1, $3)
       ON CONFLICT (install_id) DO UPDATE
         SET config = EXCLUDED.config, version = install_config.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
       RETURNING version`,
      [install.id, JSON.stringify(settingsDefaults(install.manifest)), who.actor],
    );
    const configVersion = rows[0]!.version;
    await audit(tx, { ...who, installId: install.id, action: 'config.reset', version: configVersion });
    const { rows: cleared } = await tx.query<{ key: string }>(
      'DELETE FROM install_secrets WHERE install_id = $1 RETURNING key',
      [install.id],
    );
    const secretsVersion = await bumpSecretsVersion(
      tx,
      install,
      cleared.map((row) => row.key),
      who,
    );
    return { configVersion, secretsVersion };
  });
}

async function bumpSecretsVersion(tx: Queryable, install: InstallRow, keys: string[], who: Actor): Promise<number> {
  if (keys.length === 0) return install.secretsVersion;
  // Runners key their decrypted-secret cache on this version, so one bump retires every old value.
  const { rows } = await tx.query<{ secrets_version: number }>(
    'UPDATE installs SET secrets_version = secrets_version + 1, updated_at = now() WHERE id = $1 RETURNING secrets_version',
    [install.id],
  );
  const version = rows[0]!.secrets_version;
  await audit(tx, {
    ...who,
    installId: install.id,
    action: 'secret.update',
    keyNames: [...new Set(keys)].sort(),
    version,
  });
  return version;
}

export interface LogEntry {
  at: string | null;
  level: string | null;
  message: string;
}

/**
 * Recent per-install log lines from `install_logs` (migration 003, owned by
 * the storage/logs work). Until that table exists this says so instead of
 * pretending there are no logs. Columns are discovered rather than assumed,
 * so a renamed timestamp column does not break the settings page.
 */
export async function recentLogs(
  db: Queryable,
  installId: string,
  limit = 50,
): Promise<{ available: boolean; entries: LogEntry[] }> {
  const { rows: columns } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_name = 'install_logs' AND table_schema = ANY(current_schemas(false))`,
  );
  const names = new Set(columns.map((column) => column.column_name));
  if (!names.has('install_id')) return { available: false, entries: [] };
  const at = ['at', 'created_at', 'ts', 'logged_at', 'time'].find((name) => names.has(name));
  const level = ['level', 'severity'].find((name) => names.has(name));
  const message = ['message', 'msg', 'text', 'line'].find((name) => names.has(name));
  if (!message) return { available: false, entries: [] };
  const { rows } = await db.query<{ at: Date | string | null; level: string | null; message: string }>(
    `SELECT ${at ? `"${at}"` : 'NULL'} AS at, ${level ? `"${level}"::text` : 'NULL'} AS level, "${message}"::text AS message
       FROM install_logs WHERE install_id = $1 ORDER BY ${at ? `"${at}" DESC` : '1'} LIMIT $2`,
    [installId, limit],
  );
  return {
    available: true,
    entries: rows.map((row) => ({
      at: row.at instanceof Date ? row.at.toISOString() : row.at,
      level: row.level,
      message: row.message,
    })),
  };
}
