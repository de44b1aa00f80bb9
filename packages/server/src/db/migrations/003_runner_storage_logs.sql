-- The runner-facing storage API (quotas, revisions) and per-install guest logs.
-- Runs unchanged on PGlite and PostgreSQL.

-- One row per install that has ever written to storage. Every storage write
-- locks this row first (SELECT … FOR UPDATE), which serializes the writes of
-- one install: quota checks and revision checks then see a stable state, and
-- two concurrent puts with the same expected revision cannot both win.
-- `revision_seq` hands out revisions: drawn from one counter per install, a
-- key's revision keeps increasing even across delete and re-create, so a
-- stale expected revision can never match a re-created key (no ABA).
CREATE TABLE storage_usage (
  install_id uuid PRIMARY KEY REFERENCES installs (id) ON DELETE CASCADE,
  namespaces integer NOT NULL DEFAULT 0 CHECK (namespaces >= 0),
  -- Sum of octet_length(key) + octet_length(value) over the install's records.
  bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
  revision_seq bigint NOT NULL DEFAULT 0
);

-- Per-namespace counters; a row exists while the namespace holds a key.
CREATE TABLE storage_namespaces (
  install_id uuid NOT NULL REFERENCES installs (id) ON DELETE CASCADE,
  namespace text NOT NULL,
  keys integer NOT NULL CHECK (keys >= 0),
  bytes bigint NOT NULL CHECK (bytes >= 0),
  PRIMARY KEY (install_id, namespace)
);

-- The guest's own log lines, shipped by runners after each execution (already
-- masked there). Bounded per install by pruning on insert.
CREATE TABLE install_logs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  install_id uuid NOT NULL REFERENCES installs (id) ON DELETE CASCADE,
  at timestamptz NOT NULL,
  level text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  message text NOT NULL,
  request_id text,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX install_logs_install_idx ON install_logs (install_id, id);
