-- Client-portal users: people of a tenant's client (customer) who sign in to
-- the client portal and see only extension pages that declare
-- `ui.hooks.clientPortalMenu`. API keys stay admin/viewer. `client_id` names
-- the client they belong to (handed to extensions as user-v2's client-id, as
-- the reference host does); every client-portal user has one, nobody else does.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'viewer', 'client'));
ALTER TABLE users ADD COLUMN client_id text;
ALTER TABLE users ADD CONSTRAINT users_client_id_check CHECK ((role = 'client') = (client_id IS NOT NULL AND client_id <> ''));
