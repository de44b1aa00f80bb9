/**
 * The one database interface the server codes against. Two engines sit
 * behind it: PGlite (PostgreSQL compiled to wasm, in-process) by default and
 * node-postgres when DATABASE_URL is set. Both speak the same SQL, so there is
 * one migration set and every query runs unchanged on either.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export { openPglite, writePgliteTemplate, type PgliteOptions } from './pglite.ts';
export { openPostgres } from './postgres.ts';
export { migrate } from './migrate.ts';

import path from 'node:path';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

/** DATABASE_URL wins; otherwise PGlite in `<dataDir>/pgdata`, or in memory without a data dir. */
export async function openDatabase(options: {
  databaseUrl?: string;
  dataDir?: string;
  pgliteTemplate?: string;
}): Promise<Db> {
  if (options.databaseUrl) return openPostgres({ connectionString: options.databaseUrl });
  return openPglite(
    options.dataDir ? path.join(options.dataDir, 'pgdata') : undefined,
    options.pgliteTemplate ? { template: options.pgliteTemplate } : {},
  );
}
