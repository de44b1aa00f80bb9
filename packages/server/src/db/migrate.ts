/*
 * Hand-written because no maintained migration tool drives both PGlite and
 * node-postgres through one interface. The rules are the usual ones: plain
 * SQL files named NNN_name.sql, applied in name order, each recorded in
 * alga_migrations, never edited once released (add a new file instead).
 */
import { readdir, readFile } from 'node:fs/promises';
import type { Db } from './index.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
// Arbitrary but fixed: every server process that migrates takes this lock, so
// two servers starting together apply each file exactly once.
const MIGRATION_LOCK_KEY = 7_413_250_001;

export async function migrate(db: Db): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((name) => /^\d{3}_[a-z0-9_]+\.sql$/.test(name)).sort();
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS alga_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await tx.query<{ name: string }>('SELECT name FROM alga_migrations');
    const done = new Set(rows.map((row) => row.name));
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await tx.exec(await readFile(new URL(file, MIGRATIONS_DIR), 'utf8'));
      await tx.query('INSERT INTO alga_migrations (name) VALUES ($1)', [file]);
      applied.push(file);
    }
    return applied;
  });
}
