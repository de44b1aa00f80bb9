import pg from 'pg';
import { databaseUnavailable } from '../errors.ts';
import type { Db, Queryable } from './index.ts';

/** SQLSTATE classes and socket errors that mean "the database is not there", not "this query is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|57P0[1-3]|53300)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * A lost database is a 503 the client may retry, not a 500: restarts and
 * failovers are routine. Anything else (a bad query, a constraint) passes through.
 */
export function asUnavailable(error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  const lost =
    (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
      text,
    );
  return lost ? databaseUnavailable({ cause: error }) : error;
}

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
    // Without a bound, a request waits forever for a connection to a database that does not answer.
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query reconnects.
  pool.on('error', () => {});
  // Fail at start, not on the first request, when the database is unreachable.
  const probe = await pool.connect();
  probe.release();
  const wrap = (target: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params: unknown[] = []) {
      try {
        const result = await target.query(sql, params);
        return { rows: result.rows as T[] };
      } catch (error) {
        throw asUnavailable(error);
      }
    },
    async exec(sql: string) {
      try {
        await target.query(sql);
      } catch (error) {
        throw asUnavailable(error);
      }
    },
  });
  return {
    engine: 'postgres',
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect().catch((error: unknown) => {
        throw asUnavailable(error);
      });
      let failure: unknown;
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        failure = error;
        throw asUnavailable(error);
      } finally {
        // A client whose connection broke must not go back to the pool for the next request.
        client.release(failure instanceof Error && asUnavailable(failure) !== failure ? failure : undefined);
      }
    },
    close: () => pool.end(),
  };
}
