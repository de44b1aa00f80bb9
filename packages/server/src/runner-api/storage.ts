/**
 * The install key-value store behind the runner storage API.
 *
 * Concurrency: every write first locks the install's `storage_usage` row, so
 * the writes of one install run one after another. Revision checks, quota
 * checks and usage counters are then exact without SERIALIZABLE retries, and
 * writes of different installs never wait for each other.
 *
 * Revisions are drawn from a per-install counter (`revision_seq`), so a key's
 * revision only ever grows, even across delete and re-create.
 */
import type { Db, Queryable } from '../db/index.ts';
import {
  bytesOverQuota,
  cursorForeign,
  keyExists,
  keyInvalid,
  keyMissing,
  keysOverQuota,
  namespaceInvalid,
  namespacesOverQuota,
  revisionMismatch,
  valueOverQuota,
} from '../errors.ts';

export interface StorageQuotas {
  /** Distinct namespaces holding at least one key. */
  maxNamespaces: number;
  maxKeysPerNamespace: number;
  /** Bytes of one value. */
  maxValueBytes: number;
  /** Sum of key + value bytes over all the install's entries. */
  maxTotalBytes: number;
}

export const DEFAULT_STORAGE_QUOTAS: StorageQuotas = {
  // As the reference host's storage allows.
  maxNamespaces: 32,
  maxKeysPerNamespace: 10_000,
  maxValueBytes: 256 * 1024,
  maxTotalBytes: 16 * 1024 * 1024,
};

/** 1-128 characters, as on the reference host (`app:settings`, `my/ns`), without control characters. */
export const NAMESPACE_RE = /^[^\p{Cc}]{1,128}$/u;
export const MAX_KEY_BYTES = 512;
// No control characters: keys end up in log lines and URLs.
// eslint-disable-next-line no-control-regex
const KEY_RE = /^[^\u0000-\u001f\u007f-\u009f]+$/u;

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** Value bytes one listing page carries at most (at least one entry is always returned). */
export const MAX_PAGE_VALUE_BYTES = 4 * 1024 * 1024;

export function checkNamespace(namespace: string): void {
  // "." and ".." would be dot segments of the URL the runner puts the namespace in.
  if (!NAMESPACE_RE.test(namespace) || namespace === '.' || namespace === '..' || namespace.trim() === '') {
    throw namespaceInvalid({ details: [{ field: 'namespace', message: 'has an invalid syntax' }] });
  }
}

/** Whether `key` may name an entry. "." and ".." would be dot segments in a URL, which clients may resolve before sending. */
function isKey(key: string): boolean {
  return KEY_RE.test(key) && key !== '.' && key !== '..' && Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES;
}

export function checkKey(key: string): void {
  if (!isKey(key)) {
    throw keyInvalid({ maxBytes: MAX_KEY_BYTES }, { details: [{ field: 'key', message: 'has an invalid syntax' }] });
  }
}

/** One key-value entry of an install's storage. */
export interface KvRow {
  namespace: string;
  key: string;
  value: Buffer;
  /** u64 as a decimal string (bigint on the wire would lose precision in JSON). */
  revision: string;
  expiresAt: Date | null;
}

interface RecordRow {
  key: string;
  value: Uint8Array;
  revision: string;
  expires_at: Date | string | null;
}

function toEntry(namespace: string, row: RecordRow): KvRow {
  return {
    namespace,
    key: row.key,
    // PGlite returns Uint8Array, node-postgres Buffer: normalize without copying.
    value: Buffer.from(row.value.buffer, row.value.byteOffset, row.value.byteLength),
    revision: row.revision,
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  };
}

const LIVE = '(expires_at IS NULL OR expires_at > now())';

export async function getEntry(
  db: Queryable,
  installId: string,
  namespace: string,
  key: string,
): Promise<KvRow | undefined> {
  const { rows } = await db.query<RecordRow>(
    `SELECT key, value, revision::text AS revision, expires_at FROM storage_records
      WHERE install_id = $1 AND namespace = $2 AND key = $3 AND ${LIVE}`,
    [installId, namespace, key],
  );
  return rows[0] ? toEntry(namespace, rows[0]) : undefined;
}

/** One page of a namespace's entries. */
export interface KvPage {
  entries: KvRow[];
  nextCursor: string | null;
}

interface CursorBody {
  v: 1;
  ns: string;
  k: string;
}

/** Opaque to clients; bound to its namespace so it cannot be replayed elsewhere. */
function encodeCursor(namespace: string, key: string): string {
  return Buffer.from(JSON.stringify({ v: 1, ns: namespace, k: key } satisfies CursorBody)).toString('base64url');
}

function decodeCursor(namespace: string, cursor: string): string {
  try {
    const body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody>;
    // The cursor is not signed: its key reaches SQL, so it must be one a client could have stored (no NUL).
    if (body.v === 1 && body.ns === namespace && typeof body.k === 'string' && isKey(body.k)) return body.k;
  } catch {
    // Falls through to the error below.
  }
  throw cursorForeign();
}

/**
 * One page in key order (bytewise, `COLLATE "C"`, so both engines and every
 * database locale agree). Keys and sizes are read first and the values only
 * for the keys that fit, so a page never loads more than it returns.
 */
export async function listPage(
  db: Queryable,
  installId: string,
  namespace: string,
  options: { cursor?: string | undefined; limit?: number | undefined },
): Promise<KvPage> {
  const after = options.cursor ? decodeCursor(namespace, options.cursor) : null;
  const limit = Math.min(Math.max(options.limit ?? DEFAULT_PAGE_LIMIT, 1), MAX_PAGE_LIMIT);
  const { rows: heads } = await db.query<{ key: string; size: number }>(
    `SELECT key, octet_length(value) AS size FROM storage_records
      WHERE install_id = $1 AND namespace = $2 AND ${LIVE}
        AND ($3::text IS NULL OR key COLLATE "C" > $3::text COLLATE "C")
      ORDER BY key COLLATE "C" LIMIT $4`,
    [installId, namespace, after, limit + 1],
  );
  const chosen: string[] = [];
  let bytes = 0;
  for (const head of heads.slice(0, limit)) {
    if (chosen.length > 0 && bytes + Number(head.size) > MAX_PAGE_VALUE_BYTES) break;
    chosen.push(head.key);
    bytes += Number(head.size);
  }
  const more = heads.length > chosen.length;
  if (chosen.length === 0) return { entries: [], nextCursor: null };
  const { rows } = await db.query<RecordRow>(
    `SELECT key, value, revision::text AS revision, expires_at FROM storage_records
      WHERE install_id = $1 AND namespace = $2 AND key = ANY ($3::text[])
      ORDER BY key COLLATE "C"`,
    [installId, namespace, chosen],
  );
  // A key that expired between the two reads is simply absent; the cursor still moves past it.
  return {
    entries: rows.map((row) => toEntry(namespace, row)),
    nextCursor: more ? encodeCursor(namespace, chosen[chosen.length - 1]!) : null,
  };
}

interface Usage {
  namespaces: number;
  bytes: number;
  revisionSeq: bigint;
}

/** Locks the install's usage row (creating it on first write) and purges some expired entries. */
async function lockUsage(tx: Queryable, installId: string): Promise<Usage> {
  await tx.query('INSERT INTO storage_usage (install_id) VALUES ($1) ON CONFLICT (install_id) DO NOTHING', [installId]);
  const { rows } = await tx.query<{ namespaces: number; bytes: string; revision_seq: string }>(
    `SELECT namespaces, bytes::text AS bytes, revision_seq::text AS revision_seq
       FROM storage_usage WHERE install_id = $1 FOR UPDATE`,
    [installId],
  );
  const row = rows[0]!;
  const usage: Usage = { namespaces: row.namespaces, bytes: Number(row.bytes), revisionSeq: BigInt(row.revision_seq) };
  // Expired entries still count against the quota until removed; remove a
  // bounded batch on every write so they cannot pile up, and never stall a write.
  const { rows: gone } = await tx.query<{ namespace: string; keys: number; bytes: string }>(
    `WITH gone AS (
       DELETE FROM storage_records r
        WHERE r.install_id = $1 AND (r.namespace, r.key) IN (
          SELECT namespace, key FROM storage_records
           WHERE install_id = $1 AND expires_at <= now() LIMIT 100)
       RETURNING r.namespace, octet_length(r.key) + octet_length(r.value) AS size)
     SELECT namespace, count(*)::int AS keys, sum(size)::text AS bytes FROM gone GROUP BY namespace`,
    [installId],
  );
  for (const group of gone)
    await adjustNamespace(tx, installId, usage, group.namespace, -group.keys, -Number(group.bytes));
  return usage;
}

async function namespaceRow(
  tx: Queryable,
  installId: string,
  namespace: string,
): Promise<{ keys: number; bytes: number } | undefined> {
  const { rows } = await tx.query<{ keys: number; bytes: string }>(
    'SELECT keys, bytes::text AS bytes FROM storage_namespaces WHERE install_id = $1 AND namespace = $2',
    [installId, namespace],
  );
  return rows[0] ? { keys: rows[0].keys, bytes: Number(rows[0].bytes) } : undefined;
}

/** Applies a change of keys/bytes to a namespace's counters (and `usage`, saved later by `saveUsage`). */
async function adjustNamespace(
  tx: Queryable,
  installId: string,
  usage: Usage,
  namespace: string,
  deltaKeys: number,
  deltaBytes: number,
): Promise<void> {
  const current = await namespaceRow(tx, installId, namespace);
  const keys = (current?.keys ?? 0) + deltaKeys;
  const bytes = (current?.bytes ?? 0) + deltaBytes;
  if (keys <= 0) {
    if (current) {
      await tx.query('DELETE FROM storage_namespaces WHERE install_id = $1 AND namespace = $2', [installId, namespace]);
      usage.namespaces -= 1;
    }
  } else if (current) {
    await tx.query('UPDATE storage_namespaces SET keys = $3, bytes = $4 WHERE install_id = $1 AND namespace = $2', [
      installId,
      namespace,
      keys,
      bytes,
    ]);
  } else {
    await tx.query('INSERT INTO storage_namespaces (install_id, namespace, keys, bytes) VALUES ($1, $2, $3, $4)', [
      installId,
      namespace,
      keys,
      bytes,
    ]);
    usage.namespaces += 1;
  }
  usage.bytes += deltaBytes;
}

async function saveUsage(tx: Queryable, installId: string, usage: Usage): Promise<void> {
  await tx.query(
    'UPDATE storage_usage SET namespaces = $2, bytes = $3, revision_seq = $4::bigint WHERE install_id = $1',
    [installId, usage.namespaces, usage.bytes, usage.revisionSeq.toString()],
  );
}

interface Existing {
  revision: string;
  expired: boolean;
  size: number;
}

async function existing(
  tx: Queryable,
  installId: string,
  namespace: string,
  key: string,
): Promise<Existing | undefined> {
  const { rows } = await tx.query<{ revision: string; expired: boolean; size: number }>(
    `SELECT revision::text AS revision, NOT ${LIVE} AS expired, octet_length(key) + octet_length(value) AS size
       FROM storage_records WHERE install_id = $1 AND namespace = $2 AND key = $3`,
    [installId, namespace, key],
  );
  const row = rows[0];
  return row ? { revision: row.revision, expired: row.expired, size: Number(row.size) } : undefined;
}

/** `undefined`: unconditional; `null`: the key must not exist; a string: the key must be at that revision. */
export type ExpectedRevision = string | null | undefined;

function checkExpected(found: Existing | undefined, expected: ExpectedRevision): void {
  if (expected === undefined) return;
  const live = found && !found.expired ? found : undefined;
  if (expected === null && live) throw keyExists({ details: { currentRevision: live.revision } });
  if (expected !== null && live?.revision !== expected) {
    throw live
      ? revisionMismatch({ current: live.revision, expected }, { details: { currentRevision: live.revision } })
      : keyMissing({ expected }, { details: { currentRevision: null } });
  }
}

/** `details` of every quota error: which limit and its value. */
const quota = (limit: keyof StorageQuotas, quotas: StorageQuotas) => ({ details: { limit, max: quotas[limit] } });

export interface PutInput {
  namespace: string;
  key: string;
  value: Buffer;
  expected: ExpectedRevision;
  /** Seconds from now after which reads no longer see the entry. */
  ttlSeconds?: number | undefined;
}

export async function putEntry(
  db: Db,
  installId: string,
  quotas: StorageQuotas,
  input: PutInput,
): Promise<{ revision: string; expiresAt: Date | null; created: boolean }> {
  const { namespace, key, value } = input;
  if (value.length > quotas.maxValueBytes) {
    throw valueOverQuota({ max: quotas.maxValueBytes, size: value.length }, quota('maxValueBytes', quotas));
  }
  const size = Buffer.byteLength(key, 'utf8') + value.length;
  return db.transaction(async (tx) => {
    const usage = await lockUsage(tx, installId);
    const found = await existing(tx, installId, namespace, key);
    checkExpected(found, input.expected);

    const deltaBytes = size - (found?.size ?? 0);
    if (!found) {
      const ns = await namespaceRow(tx, installId, namespace);
      if (!ns && usage.namespaces >= quotas.maxNamespaces) {
        throw namespacesOverQuota({ max: quotas.maxNamespaces }, quota('maxNamespaces', quotas));
      }
      if (ns && ns.keys >= quotas.maxKeysPerNamespace) {
        throw keysOverQuota({ namespace, max: quotas.maxKeysPerNamespace }, quota('maxKeysPerNamespace', quotas));
      }
    }
    if (deltaBytes > 0 && usage.bytes + deltaBytes > quotas.maxTotalBytes) {
      throw bytesOverQuota({ max: quotas.maxTotalBytes }, quota('maxTotalBytes', quotas));
    }

    usage.revisionSeq += 1n;
    const revision = usage.revisionSeq.toString();
    const { rows } = await tx.query<{ expires_at: Date | string | null }>(
      `INSERT INTO storage_records (install_id, namespace, key, value, revision, expires_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::bigint,
               CASE WHEN $6::int IS NULL THEN NULL ELSE now() + make_interval(secs => $6::int) END, now())
       ON CONFLICT (install_id, namespace, key) DO UPDATE
         SET value = EXCLUDED.value, revision = EXCLUDED.revision,
             expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at
       RETURNING expires_at`,
      [installId, namespace, key, value, revision, input.ttlSeconds ?? null],
    );
    await adjustNamespace(tx, installId, usage, namespace, found ? 0 : 1, deltaBytes);
    await saveUsage(tx, installId, usage);
    const expiresAt = rows[0]!.expires_at;
    return { revision, expiresAt: expiresAt === null ? null : new Date(expiresAt), created: !found || found.expired };
  });
}

/** Returns false when no live entry exists. */
export async function deleteEntry(
  db: Db,
  installId: string,
  input: { namespace: string; key: string; expected: ExpectedRevision },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const usage = await lockUsage(tx, installId);
    const found = await existing(tx, installId, input.namespace, input.key);
    checkExpected(found, input.expected);
    if (!found) return false;
    await tx.query('DELETE FROM storage_records WHERE install_id = $1 AND namespace = $2 AND key = $3', [
      installId,
      input.namespace,
      input.key,
    ]);
    await adjustNamespace(tx, installId, usage, input.namespace, -1, -found.size);
    await saveUsage(tx, installId, usage);
    return !found.expired;
  });
}

export async function storageUsage(
  db: Queryable,
  installId: string,
): Promise<{ namespaces: number; bytes: number; keys: number }> {
  const { rows } = await db.query<{ namespaces: number; bytes: string; keys: string }>(
    `SELECT coalesce((SELECT namespaces FROM storage_usage WHERE install_id = $1), 0) AS namespaces,
            coalesce((SELECT bytes FROM storage_usage WHERE install_id = $1), 0)::text AS bytes,
            coalesce((SELECT sum(keys) FROM storage_namespaces WHERE install_id = $1), 0)::text AS keys`,
    [installId],
  );
  const row = rows[0]!;
  return { namespaces: Number(row.namespaces), bytes: Number(row.bytes), keys: Number(row.keys) };
}
