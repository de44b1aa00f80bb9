/**
 * The engines a test file runs against: PGlite in memory always, and
 * PostgreSQL too when DATABASE_URL is set. Each PostgreSQL database gets its
 * own fresh schema (search_path) that is dropped on close, so test files can
 * run in parallel against one server without seeing each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPglite, openPostgres, type Db } from '../db/index.ts';

export interface TestEngine {
  name: 'pglite' | 'postgres';
  /** A new, empty (unmigrated) database; `close()` removes it. */
  open(): Promise<Db>;
}

export function testEngines(): TestEngine[] {
  const template = process.env['ALGA_PGLITE_TEMPLATE'];
  const engines: TestEngine[] = [{ name: 'pglite', open: () => openPglite(undefined, template ? { template } : {}) }];
  const url = process.env['DATABASE_URL'];
  if (url) engines.push({ name: 'postgres', open: () => openPostgresSchema(url) });
  return engines;
}

async function openPostgresSchema(url: string): Promise<Db> {
  const schema = `alga_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  const db = await openPostgres({ connectionString: url, options: `-c search_path=${schema}`, max: 5 });
  return {
    ...db,
    async close() {
      await db.close();
      const cleanup = new pg.Client({ connectionString: url });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
