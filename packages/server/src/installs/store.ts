/**
 * The ONLY place with SQL for installs, their config, their secrets and the
 * audit log. Every lookup is keyed by the tenant from the credential, so a
 * tenant can never name another tenant's install.
 *
 * Writes happen inside `write(install, fn)`, one transaction for one
 * install: when it ends the store drops the gateway's cached view of that
 * install itself, so no caller has to remember to.
 */
import type { AuditPage, BundleSignatureWire, PolicyAuditPage, Manifest, SecretMeta } from '@alga-psa/protocol';
import type { Db, Queryable } from '../db/index.ts';

export interface InstallRow {
  id: string;
  tenantId: string;
  extensionId: string;
  version: string;
  versionId: string;
  contentHash: string;
  grantedCapabilities: string[];
  /** Hosts a tenant admin granted this install beyond the manifest's `allowedHosts`. */
  egressGrants: string[];
  enabled: boolean;
  secretsVersion: number;
  secretsExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  manifest: Manifest;
  /** The version's publisher signature, carried to the runner (which verifies it itself). */
  signature: BundleSignatureWire | null;
}

/** One row of a tenant's install list. */
export interface InstallSummary {
  id: string;
  extensionId: string;
  version: string;
  enabled: boolean;
  createdAt: Date;
  manifest: Manifest;
  /** The version's files digest (null when published without an archive): names its UI files' URL. */
  filesDigest: string | null;
  /** Keys of the secrets that hold a value. */
  secretsSet: string[];
  /** Key → the egress hosts it was set under, for the keys set bound to some (`egressAtSet`). */
  egressAtSet: Record<string, string[]>;
}

export interface StoredConfig {
  config: Record<string, unknown>;
  version: number;
}

/** An install's secret ciphertexts (for the runner's envelope) and the transit key that made them. */
export interface StoredCiphertexts {
  ciphertexts: Record<string, string>;
  keyRef: string | undefined;
  /** Key → ISO expiry, for the keys set with one. */
  expiresAt: Record<string, string>;
  /** Key → the egress hosts it was set under, for the keys set bound to some (`egressAtSet`). */
  egressAtSet: Record<string, string[]>;
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

/** Who made a change and in which request, as its audit row names them (an operator, a tenant key). */
export type AuditActor = Pick<AuditEntry, 'actor'> & { requestId: string };

/** Which install a write transaction is about: the gateway caches installs by these two. */
export interface InstallKey {
  tenantId: string;
  extensionId: string;
}

export interface InstallStoreOptions {
  /** Called after every write transaction for the install it wrote (the gateway's cache drops its entry). */
  invalidate?(tenantId: string, extensionId: string): void;
}

/** A UUID as the database writes ids; anything else never names a row (and would make PostgreSQL throw). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const INSTALL_COLUMNS = `i.id, i.tenant_id, i.extension_id, i.version, v.id AS version_id, v.content_hash,
            i.granted_capabilities, i.egress_grants, i.enabled, i.secrets_version, i.secrets_expires_at,
            i.created_at, i.updated_at, v.manifest, v.signature
       FROM installs i
       JOIN extension_versions v ON v.extension_id = i.extension_id AND v.version = i.version`;

interface RawInstall {
  id: string;
  tenant_id: string;
  extension_id: string;
  version: string;
  version_id: string;
  content_hash: string;
  granted_capabilities: string[];
  egress_grants: string[];
  enabled: boolean;
  secrets_version: number;
  secrets_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  manifest: Manifest;
  signature: BundleSignatureWire | null;
}

function toInstall(row: RawInstall): InstallRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    extensionId: row.extension_id,
    version: row.version,
    versionId: row.version_id,
    contentHash: row.content_hash,
    grantedCapabilities: row.granted_capabilities,
    egressGrants: row.egress_grants,
    enabled: row.enabled,
    secretsVersion: row.secrets_version,
    secretsExpiresAt: row.secrets_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    manifest: row.manifest,
    signature: row.signature ?? null,
  };
}

/** The most rows one audit page holds. */
export const MAX_AUDIT_PAGE = 200;

/**
 * One page of an install's audit trail, newest first, strictly older than
 * `before` when given. Keyed by tenant AND install: a row of another tenant
 * can never come back, even for a guessed install id.
 */
export async function readAudit(
  db: Queryable,
  tenantId: string,
  installId: string,
  options: { limit: number; before?: string | undefined },
): Promise<AuditPage> {
  const { rows } = await db.query<{
    id: string;
    at: Date | string;
    actor: string;
    action: string;
    key_names: string[];
    version: number | null;
    request_id: string | null;
  }>(
    `SELECT id::text AS id, at, actor, action, key_names, version, request_id FROM audit_log
      WHERE tenant_id = $1 AND install_id = $2 AND ($3::bigint IS NULL OR id < $3::bigint)
      ORDER BY audit_log.id DESC LIMIT $4`,
    [tenantId, installId, options.before ?? null, options.limit + 1],
  );
  const entries = rows.slice(0, options.limit).map((row) => ({
    id: row.id,
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    action: row.action,
    keyNames: row.key_names,
    version: row.version,
    requestId: row.request_id,
  }));
  return { entries, nextBefore: rows.length > options.limit ? entries.at(-1)!.id : null };
}

/**
 * One page of the provider-policy trail (`policy.*` rows, written by the
 * operator; no install behind them), newest first. Operator-only: it spans
 * tenants. `keyNames` holds the capability, `tenantId` the tenant (null: global).
 */
export async function readPolicyAudit(
  db: Queryable,
  options: { limit: number; before?: string | undefined },
): Promise<PolicyAuditPage> {
  const { rows } = await db.query<{
    id: string;
    at: Date | string;
    actor: string;
    tenant_id: string | null;
    action: string;
    key_names: string[];
    request_id: string | null;
  }>(
    `SELECT id::text AS id, at, actor, tenant_id, action, key_names, request_id FROM audit_log
      WHERE action LIKE 'policy.%' AND ($1::bigint IS NULL OR id < $1::bigint)
      ORDER BY audit_log.id DESC LIMIT $2`,
    [options.before ?? null, options.limit + 1],
  );
  const entries = rows.slice(0, options.limit).map((row) => ({
    id: row.id,
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    tenantId: row.tenant_id,
    action: row.action,
    keyNames: row.key_names,
    version: null,
    requestId: row.request_id,
  }));
  return { entries, nextBefore: rows.length > options.limit ? entries.at(-1)!.id : null };
}

/** Names and versions only: an audit row never holds a value or ciphertext. */
export async function insertAudit(db: Queryable, entry: AuditEntry): Promise<void> {
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

/** Reads that work on the pool and inside a transaction alike. */
class InstallReads {
  protected readonly q: Queryable;

  constructor(q: Queryable) {
    this.q = q;
  }

  /** The install of `extensionId` in this tenant. */
  async find(tenantId: string, extensionId: string): Promise<InstallRow | undefined> {
    const { rows } = await this.q.query<RawInstall>(
      `SELECT ${INSTALL_COLUMNS} WHERE i.tenant_id = $1 AND i.extension_id = $2`,
      [tenantId, extensionId],
    );
    return rows[0] && toInstall(rows[0]);
  }

  /**
   * The extension id of this tenant's install that the reference host's
   * other ids name: the install's own id, or `lower(publisher + "." + name)`
   * (REFERENCE-HOST.md §3). Undefined when none matches, another tenant's included.
   */
  async extensionIdByAlias(tenantId: string, alias: string): Promise<string | undefined> {
    if (!UUID_RE.test(tenantId)) return undefined;
    const { rows } = await this.q.query<{ extension_id: string }>(
      `SELECT i.extension_id FROM installs i JOIN extensions e ON e.id = i.extension_id
        WHERE i.tenant_id = $1 AND (i.id::text = lower($2) OR lower(e.publisher || '.' || e.id) = lower($2))
        ORDER BY i.id::text = lower($2) DESC LIMIT 1`,
      [tenantId, alias],
    );
    return rows[0]?.extension_id;
  }

  /** The install with this id in this tenant; undefined for another tenant's id exactly as for a made-up one. */
  async findById(tenantId: string, installId: string): Promise<InstallRow | undefined> {
    // A malformed id would make PostgreSQL raise on the uuid cast: answer "not found" instead.
    if (!UUID_RE.test(installId) || !UUID_RE.test(tenantId)) return undefined;
    const { rows } = await this.q.query<RawInstall>(`SELECT ${INSTALL_COLUMNS} WHERE i.id = $1 AND i.tenant_id = $2`, [
      installId,
      tenantId,
    ]);
    return rows[0] && toInstall(rows[0]);
  }

  async list(tenantId: string): Promise<InstallSummary[]> {
    const { rows } = await this.q.query<{
      id: string;
      extension_id: string;
      version: string;
      enabled: boolean;
      created_at: Date;
      manifest: Manifest;
      files_digest: string | null;
      secrets_set: string[];
      egress_at_set: Record<string, string[]>;
    }>(
      `SELECT i.id, i.extension_id, i.version, i.enabled, i.created_at, v.manifest, v.files_digest,
              coalesce(array_agg(s.key) FILTER (WHERE s.key IS NOT NULL), '{}') AS secrets_set,
              coalesce(jsonb_object_agg(s.key, to_jsonb(s.egress_hosts)) FILTER (WHERE s.egress_hosts IS NOT NULL),
                       '{}') AS egress_at_set
         FROM installs i
         JOIN extension_versions v ON v.extension_id = i.extension_id AND v.version = i.version
         LEFT JOIN install_secrets s ON s.install_id = i.id
        WHERE i.tenant_id = $1
        GROUP BY i.id, i.extension_id, i.version, i.enabled, i.created_at, v.manifest, v.files_digest
        ORDER BY i.extension_id`,
      [tenantId],
    );
    return rows.map((row) => ({
      id: row.id,
      extensionId: row.extension_id,
      version: row.version,
      enabled: row.enabled,
      createdAt: row.created_at,
      manifest: row.manifest,
      filesDigest: row.files_digest,
      secretsSet: row.secrets_set,
      egressAtSet: row.egress_at_set,
    }));
  }

  async config(installId: string): Promise<StoredConfig> {
    const { rows } = await this.q.query<StoredConfig>(
      'SELECT config, version FROM install_config WHERE install_id = $1',
      [installId],
    );
    return rows[0] ?? { config: {}, version: 0 };
  }

  /**
   * One entry per declared secret setting (set or not), plus any stored key the
   * current manifest no longer declares, so nothing stored is invisible.
   * Deliberately selects no ciphertext column.
   */
  async secretMeta(install: Pick<InstallRow, 'id' | 'manifest'>): Promise<SecretMeta[]> {
    const { rows } = await this.q.query<{
      key: string;
      version: number;
      updated_at: Date;
      updated_by: string | null;
      expires_at: Date | null;
    }>(
      'SELECT key, version, updated_at, updated_by, expires_at FROM install_secrets WHERE install_id = $1 ORDER BY key',
      [install.id],
    );
    const stored = new Map(rows.map((row) => [row.key, row]));
    const declared = install.manifest.settings.filter((setting) => setting.secret).map((setting) => setting.key);
    return [...new Set([...declared, ...stored.keys()])].map((key) => {
      const row = stored.get(key);
      return row
        ? {
            key,
            set: true,
            version: row.version,
            updatedAt: row.updated_at.toISOString(),
            updatedBy: row.updated_by,
            expiresAt: row.expires_at ? new Date(row.expires_at).toISOString() : null,
          }
        : { key, set: false, version: null, updatedAt: null, updatedBy: null, expiresAt: null };
    });
  }

  /**
   * Secret keys that some published version of `extensionId` declares as a
   * secret setting with `egress` hosts: a manifest without settings (custom
   * keys) must not hand such a stored value to its guest in plain.
   */
  async egressBoundSecretKeys(extensionId: string): Promise<string[]> {
    const { rows } = await this.q.query<{ key: string }>(
      `SELECT DISTINCT s.value->>'key' AS key
         FROM extension_versions v
        CROSS JOIN LATERAL jsonb_array_elements(
          CASE WHEN jsonb_typeof(v.manifest->'settings') = 'array' THEN v.manifest->'settings' ELSE '[]'::jsonb END
        ) AS s(value)
        WHERE v.extension_id = $1 AND s.value->>'secret' = 'true'
          AND jsonb_typeof(s.value->'egress') = 'array' AND jsonb_array_length(s.value->'egress') > 0
        ORDER BY 1`,
      [extensionId],
    );
    return rows.map((row) => row.key);
  }

  /** Stored secrets that were set to be sent only to egress hosts: key → those hosts. */
  async egressAtSet(installId: string): Promise<Record<string, string[]>> {
    const { rows } = await this.q.query<{ key: string; egress_hosts: string[] }>(
      'SELECT key, egress_hosts FROM install_secrets WHERE install_id = $1 AND egress_hosts IS NOT NULL',
      [installId],
    );
    return Object.fromEntries(rows.map((row) => [row.key, row.egress_hosts]));
  }

  /** Keys of the install's stored secrets (no value, no ciphertext). */
  async storedSecretKeys(installId: string): Promise<string[]> {
    const { rows } = await this.q.query<{ key: string }>(
      'SELECT key FROM install_secrets WHERE install_id = $1 ORDER BY key',
      [installId],
    );
    return rows.map((row) => row.key);
  }

  /** Ciphertexts only: the server cannot decrypt them; they leave only inside a runner's envelope. */
  async ciphertexts(installId: string): Promise<StoredCiphertexts> {
    const { rows } = await this.q.query<{
      key: string;
      ciphertext: string;
      key_ref: string;
      expires_at: Date | null;
      egress_hosts: string[] | null;
    }>(
      'SELECT key, ciphertext, key_ref, expires_at, egress_hosts FROM install_secrets WHERE install_id = $1 ORDER BY key',
      [installId],
    );
    const expiring = rows.filter((row) => row.expires_at !== null);
    const bound = rows.filter((row) => row.egress_hosts !== null);
    return {
      ciphertexts: Object.fromEntries(rows.map((row) => [row.key, row.ciphertext])),
      keyRef: rows[0]?.key_ref,
      expiresAt: Object.fromEntries(expiring.map((row) => [row.key, new Date(row.expires_at!).toISOString()])),
      egressAtSet: Object.fromEntries(bound.map((row) => [row.key, row.egress_hosts!])),
    };
  }
}

/** The writes of one transaction. Every method runs inside it; the store invalidates when it ends. */
export class InstallWriter extends InstallReads {
  /** Locks the tenant's install of an extension (if any) until the transaction ends. */
  async lock(tenantId: string, extensionId: string): Promise<string | undefined> {
    const { rows } = await this.q.query<{ id: string }>(
      'SELECT id FROM installs WHERE tenant_id = $1 AND extension_id = $2 FOR UPDATE',
      [tenantId, extensionId],
    );
    return rows[0]?.id;
  }

  /** A new install; undefined when the tenant already has one of this extension. */
  async create(tenantId: string, extensionId: string, version: string, granted: string[]): Promise<string | undefined> {
    const { rows } = await this.q.query<{ id: string }>(
      `INSERT INTO installs (tenant_id, extension_id, version, granted_capabilities) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, extension_id) DO NOTHING RETURNING id`,
      [tenantId, extensionId, version, granted],
    );
    return rows[0]?.id;
  }

  async upgrade(installId: string, version: string, granted: string[]): Promise<void> {
    await this.q.query(
      'UPDATE installs SET version = $2, granted_capabilities = $3, updated_at = now() WHERE id = $1',
      [installId, version, granted],
    );
  }

  /** Deletes the install; config, secrets and storage go with it (cascade). False when it was not there. */
  async remove(tenantId: string, installId: string): Promise<boolean> {
    const { rows } = await this.q.query('DELETE FROM installs WHERE id = $1 AND tenant_id = $2 RETURNING id', [
      installId,
      tenantId,
    ]);
    return rows.length > 0;
  }

  /** Replaces the hosts granted beyond the manifest; returns the previous list, or undefined when the install is not there. */
  async setEgressGrants(tenantId: string, installId: string, hosts: string[]): Promise<string[] | undefined> {
    const { rows } = await this.q.query<{ was: string[] }>(
      `UPDATE installs i SET egress_grants = $3::jsonb, updated_at = now()
         FROM installs old WHERE old.id = i.id AND i.id = $1 AND i.tenant_id = $2
       RETURNING old.egress_grants AS was`,
      [installId, tenantId, JSON.stringify(hosts)],
    );
    return rows[0]?.was;
  }

  /** Sets `enabled`; returns what it was before, or undefined when the install is not there. */
  async setEnabled(tenantId: string, installId: string, enabled: boolean): Promise<boolean | undefined> {
    const { rows } = await this.q.query<{ was: boolean }>(
      `UPDATE installs i SET enabled = $3, updated_at = now()
         FROM installs old WHERE old.id = i.id AND i.id = $1 AND i.tenant_id = $2
       RETURNING old.enabled AS was`,
      [installId, tenantId, enabled],
    );
    return rows[0]?.was;
  }

  /** Stores the whole config and bumps its version (version 1 for the first one); returns the new version. */
  async writeConfig(installId: string, config: Record<string, unknown>, actor: string): Promise<number> {
    const { rows } = await this.q.query<{ version: number }>(
      `INSERT INTO install_config (install_id, config, version, updated_by) VALUES ($1, $2::jsonb, 1, $3)
       ON CONFLICT (install_id) DO UPDATE
         SET config = EXCLUDED.config, version = install_config.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
       RETURNING version`,
      [installId, JSON.stringify(config), actor],
    );
    return rows[0]!.version;
  }

  /**
   * Stores one secret's ciphertext; returns that key's version. `egressHosts`: the hosts the
   * installed version sends it to (absent: the guest may read it), kept with the value.
   */
  async writeSecret(
    installId: string,
    secret: {
      key: string;
      ciphertext: string;
      keyRef: string;
      expiresAt?: Date | null;
      egressHosts?: readonly string[] | null | undefined;
    },
    actor: string,
  ): Promise<number> {
    const egress = secret.egressHosts?.length ? JSON.stringify([...secret.egressHosts]) : null;
    const { rows } = await this.q.query<{ version: number }>(
      `INSERT INTO install_secrets (install_id, key, ciphertext, key_ref, version, updated_by, expires_at, egress_hosts)
       VALUES ($1, $2, $3, $4, 1, $5, $6, $7::jsonb)
       ON CONFLICT (install_id, key) DO UPDATE
         SET ciphertext = EXCLUDED.ciphertext, key_ref = EXCLUDED.key_ref, version = install_secrets.version + 1,
             updated_at = now(), updated_by = EXCLUDED.updated_by, expires_at = EXCLUDED.expires_at,
             egress_hosts = EXCLUDED.egress_hosts
       RETURNING version`,
      // A new value without an expiry never expires, whatever the old one had.
      [installId, secret.key, secret.ciphertext, secret.keyRef, actor, secret.expiresAt ?? null, egress],
    );
    return rows[0]!.version;
  }

  /** Deletes the named secrets (every secret when `keys` is omitted); returns the keys that were stored. */
  async deleteSecrets(installId: string, keys?: readonly string[]): Promise<string[]> {
    const { rows } = await this.q.query<{ key: string }>(
      'DELETE FROM install_secrets WHERE install_id = $1 AND ($2::text[] IS NULL OR key = ANY($2::text[])) RETURNING key',
      [installId, keys ?? null],
    );
    return rows.map((row) => row.key);
  }

  /** Runners key their decrypted-secret cache on this version, so one bump retires every old value. */
  async bumpSecretsVersion(installId: string): Promise<number> {
    const { rows } = await this.q.query<{ secrets_version: number }>(
      'UPDATE installs SET secrets_version = secrets_version + 1, updated_at = now() WHERE id = $1 RETURNING secrets_version',
      [installId],
    );
    return rows[0]!.secrets_version;
  }

  async audit(entry: AuditEntry): Promise<void> {
    await insertAudit(this.q, entry);
  }
}

export class InstallStore extends InstallReads {
  readonly #db: Db;
  readonly #invalidate: (tenantId: string, extensionId: string) => void;

  constructor(db: Db, options: InstallStoreOptions = {}) {
    super(db);
    this.#db = db;
    this.#invalidate = options.invalidate ?? (() => {});
  }

  /**
   * Runs `fn` in one transaction for the install `key` names (which may not
   * exist yet), then drops the cached view of that install, whether the
   * transaction committed or not: after it ends, so the next read that fills
   * the cache sees the committed rows.
   */
  async write<T>(key: InstallKey, fn: (tx: InstallWriter) => Promise<T>): Promise<T> {
    try {
      return await this.#db.transaction((tx) => fn(new InstallWriter(tx)));
    } finally {
      this.#invalidate(key.tenantId, key.extensionId);
    }
  }
}
