-- Publisher signatures on bundles (issue 23). The signature document is kept
-- as sent (the runner verifies it again with its own trusted keys); the key id
-- is split out so revocations can find the versions a key signed.
ALTER TABLE extension_versions ADD COLUMN signature jsonb;
ALTER TABLE extension_versions ADD COLUMN signing_key_id text;
CREATE INDEX extension_versions_signing_key_idx ON extension_versions (signing_key_id) WHERE signing_key_id IS NOT NULL;

-- A tenant admin's revocation of a publisher key: the tenant's versions signed
-- by it refuse to run. The operator's own revocations live in the trust policy file.
CREATE TABLE signing_key_revocations (
  tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  key_id text NOT NULL,
  reason text NOT NULL,
  revoked_by text NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key_id)
);
