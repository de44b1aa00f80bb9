-- The control plane's schema. Runs unchanged on PGlite and PostgreSQL.
-- Rules: secret values and ciphertexts appear only in install_secrets; the
-- audit log records key names, never values.

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- People who sign in to the web UI (sessions come later); API keys below are
-- for machines and the CLI.
CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  email text NOT NULL,
  name text NOT NULL DEFAULT '',
  role text NOT NULL CHECK (role IN ('admin', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, email)
);

-- Keys look like alga_sk_<id>_<secret>; only sha256(secret) is stored, so a
-- database dump cannot be replayed as credentials.
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'viewer')),
  secret_sha256 text NOT NULL,
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);

-- The registry is global: an extension id is the manifest name, owned by the
-- tenant that first published it.
CREATE TABLE extensions (
  id text PRIMARY KEY,
  publisher text NOT NULL,
  owner_tenant_id uuid REFERENCES tenants (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE extension_versions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  extension_id text NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
  version text NOT NULL,
  content_hash text NOT NULL,
  manifest jsonb NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  published_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (extension_id, version)
);

-- A published version is immutable: installs and runners cache it by
-- (extension, version) and content hash, so a silent edit would split them.
CREATE FUNCTION alga_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER extension_versions_immutable BEFORE UPDATE ON extension_versions
  FOR EACH ROW EXECUTE FUNCTION alga_refuse_update();

CREATE TABLE installs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  extension_id text NOT NULL REFERENCES extensions (id),
  version text NOT NULL,
  granted_capabilities text[] NOT NULL DEFAULT '{}',
  enabled boolean NOT NULL DEFAULT true,
  -- Bumped on every secret write; runners key their decrypted-secret cache on it.
  secrets_version integer NOT NULL DEFAULT 0,
  secrets_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, extension_id),
  FOREIGN KEY (extension_id, version) REFERENCES extension_versions (extension_id, version)
);

CREATE TABLE install_config (
  install_id uuid PRIMARY KEY REFERENCES installs (id) ON DELETE CASCADE,
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
);

-- One transit ciphertext per key, bound (AEAD context) to tenant, install and key.
CREATE TABLE install_secrets (
  install_id uuid NOT NULL REFERENCES installs (id) ON DELETE CASCADE,
  key text NOT NULL,
  ciphertext text NOT NULL,
  key_ref text NOT NULL,
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text,
  PRIMARY KEY (install_id, key)
);

-- The KV store that runners reach through the storage capability.
CREATE TABLE storage_records (
  install_id uuid NOT NULL REFERENCES installs (id) ON DELETE CASCADE,
  namespace text NOT NULL,
  key text NOT NULL,
  value bytea NOT NULL,
  revision bigint NOT NULL DEFAULT 1,
  expires_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (install_id, namespace, key)
);
CREATE INDEX storage_records_expiry_idx ON storage_records (expires_at) WHERE expires_at IS NOT NULL;

-- Append-only; no foreign keys so the trail outlives what it describes.
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  tenant_id uuid,
  install_id uuid,
  action text NOT NULL,
  key_names text[] NOT NULL DEFAULT '{}',
  version integer,
  request_id text
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION alga_refuse_update();
