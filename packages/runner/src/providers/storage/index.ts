/**
 * `alga:extension/storage`: the install's key-value storage, kept by the
 * server and reached through its runner API with the execution's
 * `alga-server` token. Unlocked by `cap:storage.kv`.
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
import { Value } from 'typebox/value';
import {
  AlgaError,
  RUNNER_API_PREFIX,
  runnerApiPaths,
  RevisionSchema,
  StorageEntrySchema,
  StoragePageSchema,
  type StorageEntryWire,
  type StoragePut,
} from '@alga-psa/protocol';
import type { StorageEntry } from '../../../generated/interfaces/alga-extension-types.js';
import { endSpan } from '@alga-psa/protocol/tracing';
import {
  callBudget,
  executionState,
  providerSpan,
  witErr,
  type ExecutionScope,
  type WitErr,
} from '../../host-calls/index.ts';
import { serverToken, type ServerApi } from '../../server-api/client.ts';
import { defineProvider, type ProviderImpl } from '../types.ts';

export interface StorageOptions {
  /** The server's runner API; without it every call answers `internal`. */
  serverApi: ServerApi | undefined;
  /** Per call, never more than the execution's `limits.timeout_ms`. Default 5000. */
  timeoutMs?: number;
  /** Largest answer accepted from the server. Default 8 MiB (a list page holds ≤ 4 MiB of values, base64-encoded). */
  maxResponseBytes?: number;
}

/** Whether this execution already said why storage is unavailable (once is enough). */
const reportedUnavailable = executionState('storage.unavailable', () => ({ reported: false }));

/** URL parsing would resolve these as dot segments and move the call to another path. */
const isDotSegment = (value: string) => value === '.' || value === '..';

function fromWire(entry: StorageEntryWire): StorageEntry {
  return {
    namespace: entry.namespace,
    key: entry.key,
    value: new Uint8Array(Buffer.from(entry.value_b64, 'base64')),
    revision: BigInt(entry.revision),
  };
}

export function storageImpl(options: StorageOptions): ProviderImpl<'storage'> {
  const { serverApi } = options;
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxResponseBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;

  type Outcome = { status: number; body: unknown } | WitErr;

  async function call(
    scope: ExecutionScope,
    fn: string,
    method: 'GET' | 'PUT' | 'DELETE',
    segments: string[],
    path: string,
    body?: StoragePut,
  ): Promise<Outcome> {
    if (segments.some(isDotSegment)) {
      scope.logger.warn({ provider: 'storage', fn }, `storage.${fn}: "." and ".." are not valid namespaces or keys`);
      return witErr('internal');
    }
    const token = serverToken(scope.request);
    if (!serverApi || !token) {
      const state = scope.state(reportedUnavailable);
      if (!state.reported) {
        state.reported = true;
        scope.logger.error(
          { provider: 'storage', fn },
          serverApi
            ? 'storage is unavailable: the execute request carried no server_token (is the gateway minting alga-server tokens?)'
            : 'storage is unavailable: this runner has no ALGA_SERVER_URL to reach the storage API',
        );
      }
      return witErr('internal');
    }
    // Named for the server's route template: a namespace or key may be the guest's data.
    const route = `${RUNNER_API_PREFIX}${segments.length > 1 ? '/storage/:namespace/*' : '/storage/:namespace'}`;
    const span = providerSpan(scope, `${method} ${route}`, {
      kind: 'client',
      attributes: { 'http.request.method': method, 'url.template': route },
    });
    const result = await serverApi.call({
      token,
      method,
      path,
      body,
      timeoutMs: callBudget(scope, timeoutMs),
      maxResponseBytes,
      signal: scope.signal,
      traceparent: span && scope.trace?.tracing.traceparent(span),
    });
    if (span) {
      if (result.kind === 'response') span.setAttribute('http.response.status_code', result.status);
      const failed = result.kind === 'transport' || result.status >= 500;
      endSpan(span, failed ? { code: result.kind === 'transport' ? 'transport' : String(result.status) } : undefined);
    }
    if (result.kind === 'transport') {
      scope.logger.warn({ provider: 'storage', fn, reason: result.reason }, `storage.${fn} failed: ${result.reason}`);
      return witErr('internal');
    }
    if (result.status >= 200 && result.status < 300) return { status: result.status, body: result.body };
    const error = AlgaError.fromBody(result.body);
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
  }

  function malformed(scope: ExecutionScope, fn: string): WitErr {
    scope.logger.error({ provider: 'storage', fn }, `storage.${fn}: the server's answer has an unexpected shape`);
    return witErr('internal');
  }

  async function page(scope: ExecutionScope, fn: string, namespace: string, cursor: string | undefined) {
    const query = cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`;
    const outcome = await call(scope, fn, 'GET', [namespace], `${runnerApiPaths.namespace(namespace)}${query}`);
    if (!('status' in outcome)) return outcome;
    if (!Value.Check(StoragePageSchema, outcome.body)) return malformed(scope, fn);
    const { entries, next_cursor: next } = outcome.body;
    return { entries: entries.map(fromWire), nextCursor: next ?? undefined };
  }

  return {
    functions: {
      async get(scope, namespace, key) {
        const outcome = await call(scope, 'get', 'GET', [namespace, key], runnerApiPaths.entry(namespace, key));
        if (!('status' in outcome)) return outcome;
        return Value.Check(StorageEntrySchema, outcome.body) ? fromWire(outcome.body) : malformed(scope, 'get');
      },
      async put(scope, entry) {
        const value = entry.value;
        const body: StoragePut = {
          value_b64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
        };
        if (entry.revision !== undefined) {
          body.expected_revision = entry.revision === 0n ? null : entry.revision.toString();
        }
        const path = runnerApiPaths.entry(entry.namespace, entry.key);
        const outcome = await call(scope, 'put', 'PUT', [entry.namespace, entry.key], path, body);
        if (!('status' in outcome)) return outcome;
        const revision = (outcome.body as { revision?: unknown } | undefined)?.revision;
        if (!Value.Check(RevisionSchema, revision)) return malformed(scope, 'put');
        return { namespace: entry.namespace, key: entry.key, value: entry.value, revision: BigInt(revision) };
      },
      async delete(scope, namespace, key) {
        const outcome = await call(scope, 'delete', 'DELETE', [namespace, key], runnerApiPaths.entry(namespace, key));
        return 'status' in outcome ? undefined : outcome;
      },
      async listEntries(scope, namespace, cursor) {
        // The reference shape drops the next cursor; `listPage` keeps it.
        const result = await page(scope, 'listEntries', namespace, cursor);
        return 'entries' in result ? result.entries : result;
      },
      listPage: (scope, namespace, cursor) => page(scope, 'listPage', namespace, cursor),
    },
    denied: () => witErr('denied'),
  };
}

export const storageProvider = defineProvider({
  iface: 'storage',
  create: ({ deps }) => storageImpl({ serverApi: deps.serverApi }),
});
