/**
 * Per-install guest logs: written by runners after each execution (already
 * masked there), read by the tenant's admins. Bounded per install: every
 * insert prunes all but the newest `retain` lines, under a per-install lock
 * so concurrent batches cannot both keep "their" view of the newest lines.
 */
import type { GuestLogLevel, GuestLogLine, UiLogEntry } from '@alga-psa/protocol';
import type { Db, Queryable } from '../db/index.ts';

export const DEFAULT_LOG_RETENTION = 1000;

// Two-key advisory locks live in their own key space; this class id keeps ours apart.
const LOG_LOCK_CLASS = 7413;
// A runner's clock may be off; a line dated far in the future would sort oddly.
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export async function appendLogs(db: Db, installId: string, lines: GuestLogLine[], retain: number): Promise<number> {
  if (lines.length === 0) return 0;
  const now = Date.now();
  const at = lines.map((line) => {
    const parsed = Date.parse(line.at);
    return new Date(Number.isNaN(parsed) || parsed > now + MAX_CLOCK_SKEW_MS ? now : parsed).toISOString();
  });
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [LOG_LOCK_CLASS, installId]);
    await tx.query(
      `INSERT INTO install_logs (install_id, at, level, message, request_id)
       SELECT $1, t.at, t.level, t.message, t.request_id
         FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[]) AS t (at, level, message, request_id)`,
      [
        installId,
        at,
        lines.map((line) => line.level),
        lines.map((line) => line.message),
        lines.map((line) => line.request_id ?? null),
      ],
    );
    await tx.query(
      `DELETE FROM install_logs WHERE install_id = $1 AND id < (
         SELECT id FROM install_logs WHERE install_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
      [installId, retain - 1],
    );
    return lines.length;
  });
}

export interface StoredLogLine {
  id: string;
  at: string;
  level: GuestLogLevel;
  message: string;
  requestId: string | null;
}

/** With `after`: the lines after that id, oldest first. Without: the newest `limit` lines, oldest first. */
export async function readLogs(
  db: Queryable,
  installId: string,
  options: { limit: number; after?: string | undefined },
): Promise<StoredLogLine[]> {
  const columns = 'id::text AS id, at, level, message, request_id';
  const { rows } = options.after
    ? await db.query<RawLogLine>(
        `SELECT ${columns} FROM install_logs WHERE install_id = $1 AND id > $2::bigint ORDER BY id LIMIT $3`,
        [installId, options.after, options.limit],
      )
    : await db.query<RawLogLine>(
        `SELECT * FROM (SELECT ${columns} FROM install_logs WHERE install_id = $1 ORDER BY id DESC LIMIT $2) newest
          ORDER BY id::bigint`,
        [installId, options.limit],
      );
  return rows.map((row) => ({
    id: row.id,
    at: new Date(row.at).toISOString(),
    level: row.level,
    message: row.message,
    requestId: row.request_id,
  }));
}

/** The newest lines first, as the web UI's logs panel shows them: in the order they were stored, as the tenant API lists them. */
export async function recentLogs(db: Queryable, installId: string, limit = 50): Promise<UiLogEntry[]> {
  const { rows } = await db.query<{ at: Date | string; level: string; message: string }>(
    'SELECT at, level, message FROM install_logs WHERE install_id = $1 ORDER BY id DESC LIMIT $2',
    [installId, limit],
  );
  return rows.map((row) => ({ at: new Date(row.at).toISOString(), level: row.level, message: row.message }));
}

interface RawLogLine {
  id: string;
  at: Date | string;
  level: GuestLogLevel;
  message: string;
  request_id: string | null;
}
