-- The reference host's extensions (issue 19).
-- What a version's component imports, as publish read it from the binary: the
-- consent screen lists the interfaces imported but not requested.
ALTER TABLE extension_versions ADD COLUMN imports jsonb;

-- Hosts a tenant admin granted an install beyond its manifest's allowedHosts
-- (reference manifests have none); validated like allowedHosts, audited.
ALTER TABLE installs ADD COLUMN egress_grants jsonb NOT NULL DEFAULT '[]'::jsonb;
