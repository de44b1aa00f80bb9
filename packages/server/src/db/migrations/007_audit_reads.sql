-- An install's audit trail is read newest first, a page at a time
-- (GET /api/v1/installs/:extensionId/audit, the settings page's History).
CREATE INDEX audit_log_install_idx ON audit_log (install_id, id);
