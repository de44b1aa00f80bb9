export { createServer, LOG_REDACT_PATHS, type AlgaServer, type ServerOptions } from './server.ts';
export { openDatabase, openPglite, openPostgres, migrate, type Db, type Queryable } from './db/index.ts';
export { createTenantWithKey, createApiKey, authenticateApiKey, type Principal, type Role } from './auth/api-keys.ts';
export { bootstrapTenant, writeBootstrapFile, type BootstrapFile } from './auth/bootstrap.ts';
