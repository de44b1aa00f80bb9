-- Provider policy: the platform operator switches a capability off (or back
-- on) everywhere (tenant_id NULL) or for one tenant; a tenant row wins over
-- the global one, no row means enabled. Changes are audited in audit_log.
CREATE TABLE capability_policy (
  capability text NOT NULL,
  tenant_id uuid REFERENCES tenants (id) ON DELETE CASCADE,
  enabled boolean NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL
);
CREATE UNIQUE INDEX capability_policy_global_idx ON capability_policy (capability) WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX capability_policy_tenant_idx ON capability_policy (tenant_id, capability) WHERE tenant_id IS NOT NULL;
-- The operator's view of the policy trail (no install behind these rows).
CREATE INDEX audit_log_policy_idx ON audit_log (id) WHERE action LIKE 'policy.%';
