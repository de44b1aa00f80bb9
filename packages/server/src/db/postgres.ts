import pg from 'pg';
import type { Db, Queryable } from './index.ts';

export interface PostgresOptions {
  connectionString: string;
  /** Extra libpq options, e.g. `-c search_path=test_schema` for per-test schemas. */
  options?: string;
  max?: number;
}

export async function openPostgres(config: PostgresOptions): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: config.connectionString,
    options: config.options,
    max: config.max ?? 10,
  });
  // An idle client losing its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query reconnects.
  pool.on('error', () => {});
  // Fail at start, not on the first request, when the database is unreachable.
  const probe = await pool.connect();
  probe.release();
  const wrap = (target: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      const result = await target.query(sql, params);
      return { rows: result.rows as T[] };
    },
    async exec(sql: string) {
      await target.query(sql);
    },
  });
  return {
    engine: 'postgres',
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
