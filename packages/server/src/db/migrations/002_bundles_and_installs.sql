-- Bundle archives (POST /api/v1/extensions/publish) and install lifecycle.

-- A version published from an archive records the archive (by sha256, in the
-- bundle store) and a digest of its files, so re-packing the same build is
-- recognised as the same content even though gzip and tar headers differ.
ALTER TABLE extension_versions ADD COLUMN archive_hash text;
ALTER TABLE extension_versions ADD COLUMN files_digest text;

-- The iframe UI's static files: bytes live in the bundle store by sha256,
-- this table maps each (extension, version, path) to them.
CREATE TABLE extension_ui_files (
  extension_id text NOT NULL,
  version text NOT NULL,
  path text NOT NULL,
  content_hash text NOT NULL,
  size integer NOT NULL,
  content_type text NOT NULL,
  PRIMARY KEY (extension_id, version, path),
  FOREIGN KEY (extension_id, version) REFERENCES extension_versions (extension_id, version) ON DELETE CASCADE
);
