-- A secret may be set with an expiry: the envelope carries it per key, the
-- runner answers `expired` past it, and /metrics counts those about to.
ALTER TABLE install_secrets ADD COLUMN expires_at timestamptz;
CREATE INDEX install_secrets_expiry_idx ON install_secrets (expires_at) WHERE expires_at IS NOT NULL;
