/**
 * `alga:extension/storage`: the install's key-value storage, kept by the
 * server and reached through its runner API with the execution's
 * `alga-server` token. Requires `cap:storage.kv`.
 *
 * The token names the install, so this provider cannot reach another
 * install's keys whatever the guest passes. Error mapping (the WIT enum has
 * four variants; the detail goes to the runner's log, never to the guest):
 *
 * - `missing`: no such entry (404);
 * - `conflict`: ONLY a revision mismatch (409 `ALGA_STORAGE_CONFLICT`), so a
 *   guest can treat it as "read again and retry";
 * - `denied`: not granted (no network call), or the server refused the token
 *   or the install (401/403);
 * - `internal`: everything else — quota exceeded, invalid namespace or key,
 *   no server configured, transport errors, timeouts, oversized answers —
 *   with the server's message (which names the limit or rule) logged at warn.
 *
 * Revisions: on `put`, an entry's `revision` is the expected current revision:
 * none = unconditional, `0` = the key must not exist yet (revisions start at
 * 1), `n` = it must be at revision `n`.
 */
import type { Dispatcher } from 'undici';
import { witErr, type ExecutionScope, type Provider, type WitErr } from '../types.ts';
import { callServer, serverError, serverToken } from './client.ts';

export interface StorageProviderOptions {
  /** The server's base URL (`ALGA_SERVER_URL`); without it every call answers `internal`. */
  serverUrl?: string | undefined;
  /** Per call, never more than the execution's `limits.timeout_ms`. Default 5000. */
  timeoutMs?: number;
  /** Largest answer accepted from the server. Default 8 MiB (a list page holds ≤ 4 MiB of values, base64-encoded). */
  maxResponseBytes?: number;
  /** For tests. */
  dispatcher?: Dispatcher;
}

/** The WIT `storage-entry` record as jco lowers/lifts it. */
export interface WitStorageEntry {
  namespace: string;
  key: string;
  value: Uint8Array;
  revision?: bigint | undefined;
}

interface WireEntry {
  namespace: string;
  key: string;
  value_b64: string;
  revision: string;
}

/** Per-execution state: calls in flight (aborted when the execution ends), and whether we said why storage is off. */
interface StorageMemo {
  inflight: Set<AbortController>;
  reportedUnavailable: boolean;
}

const seg = (value: string) => encodeURIComponent(String(value));
/** URL parsing would resolve these as dot segments and move the call to another path. */
const isDotSegment = (value: string) => value === '.' || value === '..';

function fromWire(entry: WireEntry): WitStorageEntry {
  return {
    namespace: entry.namespace,
    key: entry.key,
    value: new Uint8Array(Buffer.from(entry.value_b64, 'base64')),
    revision: BigInt(entry.revision),
  };
}

export function createStorageProvider(options: StorageProviderOptions = {}): Provider {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxResponseBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;

  function memoFor(scope: ExecutionScope): StorageMemo {
    const existing = scope.memo.get('storage') as StorageMemo | undefined;
    if (existing) return existing;
    const memo: StorageMemo = { inflight: new Set(), reportedUnavailable: false };
    scope.memo.set('storage', memo);
    scope.defer(() => {
      for (const controller of memo.inflight) controller.abort(new Error('The execution ended.'));
      memo.inflight.clear();
    });
    return memo;
  }

  type Outcome = { status: number; body: unknown } | WitErr;

  async function call(
    scope: ExecutionScope,
    fn: string,
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<Outcome> {
    const memo = memoFor(scope);
    if (
      path
        .split('?')[0]!
        .split('/')
        .some((part) => isDotSegment(decodeURIComponent(part)))
    ) {
      scope.logger.warn({ provider: 'storage', fn }, `storage.${fn}: "." and ".." are not valid namespaces or keys`);
      return witErr('internal');
    }
    const token = serverToken(scope);
    if (!options.serverUrl || !token) {
      if (!memo.reportedUnavailable) {
        memo.reportedUnavailable = true;
        scope.logger.error(
          { provider: 'storage', fn },
          options.serverUrl
            ? 'storage is unavailable: the execute request carried no server_token (is the gateway minting alga-server tokens?)'
            : 'storage is unavailable: this runner has no ALGA_SERVER_URL to reach the storage API',
        );
      }
      return witErr('internal');
    }
    const limit = scope.request.limits?.timeout_ms;
    const budget = typeof limit === 'number' && limit > 0 ? Math.min(timeoutMs, limit) : timeoutMs;
    const controller = new AbortController();
    memo.inflight.add(controller);
    try {
      const result = await callServer({
        serverUrl: options.serverUrl,
        token,
        method,
        path,
        body,
        timeoutMs: budget,
        maxResponseBytes,
        signal: controller.signal,
        dispatcher: options.dispatcher,
      });
      if (result.kind === 'transport') {
        scope.logger.warn({ provider: 'storage', fn, reason: result.reason }, `storage.${fn} failed: ${result.reason}`);
        return witErr('internal');
      }
      if (result.status >= 200 && result.status < 300) return { status: result.status, body: result.body };
      const error = serverError(result.body);
      const detail = { provider: 'storage', fn, status: result.status, code: error?.code };
      if (result.status === 404) return witErr('missing');
      if (result.status === 409 && error?.code === 'ALGA_STORAGE_CONFLICT') return witErr('conflict');
      if (result.status === 401 || result.status === 403) {
        scope.logger.warn(detail, `storage.${fn} denied by the server: ${error?.message ?? result.status}`);
        return witErr('denied');
      }
      // Quotas and validation: the server's message names the limit or rule the guest broke.
      scope.logger.warn(detail, `storage.${fn} failed: ${error?.message ?? `HTTP ${result.status}`}`);
      return witErr('internal');
    } finally {
      memo.inflight.delete(controller);
    }
  }

  function malformed(scope: ExecutionScope, fn: string): WitErr {
    scope.logger.error({ provider: 'storage', fn }, `storage.${fn}: the server's answer has an unexpected shape`);
    return witErr('internal');
  }

  const isEntry = (value: unknown): value is WireEntry => {
    const entry = value as Partial<WireEntry> | undefined;
    return (
      typeof entry?.namespace === 'string' &&
      typeof entry.key === 'string' &&
      typeof entry.value_b64 === 'string' &&
      typeof entry.revision === 'string' &&
      /^[0-9]{1,20}$/.test(entry.revision)
    );
  };

  async function page(scope: ExecutionScope, fn: string, namespace: string, cursor: string | undefined) {
    const query = cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`;
    const outcome = await call(scope, fn, 'GET', `/storage/${seg(namespace)}${query}`);
    if (!('status' in outcome)) return outcome;
    const body = outcome.body as { entries?: unknown; next_cursor?: unknown } | undefined;
    if (!Array.isArray(body?.entries) || !body.entries.every(isEntry)) return malformed(scope, fn);
    const next = typeof body.next_cursor === 'string' ? body.next_cursor : undefined;
    return { entries: body.entries.map(fromWire), nextCursor: next };
  }

  return {
    name: 'storage',
    iface: 'storage',
    capability: 'cap:storage.kv',
    functions: {
      async get(scope: ExecutionScope, namespace: string, key: string) {
        const outcome = await call(scope, 'get', 'GET', `/storage/${seg(namespace)}/${seg(key)}`);
        if (!('status' in outcome)) return outcome;
        return isEntry(outcome.body) ? fromWire(outcome.body) : malformed(scope, 'get');
      },
      async put(scope: ExecutionScope, entry: WitStorageEntry) {
        const value = entry.value;
        const body: Record<string, unknown> = {
          value_b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
        };
        if (entry.revision !== undefined) {
          body.expected_revision = entry.revision === 0n ? null : entry.revision.toString();
        }
        const outcome = await call(scope, 'put', 'PUT', `/storage/${seg(entry.namespace)}/${seg(entry.key)}`, body);
        if (!('status' in outcome)) return outcome;
        const revision = (outcome.body as { revision?: unknown } | undefined)?.revision;
        if (typeof revision !== 'string' || !/^[0-9]{1,20}$/.test(revision)) return malformed(scope, 'put');
        return { namespace: entry.namespace, key: entry.key, value: entry.value, revision: BigInt(revision) };
      },
      async delete(scope: ExecutionScope, namespace: string, key: string) {
        const outcome = await call(scope, 'delete', 'DELETE', `/storage/${seg(namespace)}/${seg(key)}`);
        return 'status' in outcome ? undefined : outcome;
      },
      async listEntries(scope: ExecutionScope, namespace: string, cursor?: string) {
        // The reference shape drops the next cursor; `listPage` keeps it.
        const result = await page(scope, 'listEntries', namespace, cursor);
        return 'entries' in result ? result.entries : result;
      },
      async listPage(scope: ExecutionScope, namespace: string, cursor?: string) {
        return page(scope, 'listPage', namespace, cursor);
      },
    },
    denied() {
      return witErr('denied');
    },
  };
}
