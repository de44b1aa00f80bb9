/**
 * `alga:extension/secrets`: the install's secrets, decrypted on demand from
 * the envelope the server sent. Requires `cap:secrets.get`.
 *
 * The runner is the only party that can decrypt; values never appear in a
 * log line (every value read here is added to the execution's mask set).
 */
import { secretAad } from '@alga-psa/protocol';
import { TransitError, type Decrypter } from '@alga-psa/transit';
import { witErr, type ExecutionScope, type Provider, type WitErr } from '../types.ts';
import { SecretCache, type SecretCacheEntry } from './cache.ts';

export { SecretCache, SecretCacheEntry } from './cache.ts';

/** Counts for the runner's /metrics; never given a key name or a value. */
export interface SecretsMetrics {
  cacheLookup(hit: boolean): void;
  decrypt(ok: boolean): void;
}

export interface SecretsProviderOptions {
  decrypter: Decrypter;
  cache: SecretCache;
  metrics?: SecretsMetrics;
  /** Clock, for tests of expiry. */
  now?: () => number;
}

/** Per-execution state: the cache entry this execution pinned. */
interface SecretsMemo {
  entry: SecretCacheEntry;
}

export function createSecretsProvider(options: SecretsProviderOptions): Provider {
  const { decrypter, cache, metrics } = options;
  const now = options.now ?? Date.now;

  /** The envelope's answer before any decrypt: `missing` / `expired`, or undefined when the key can be read. */
  function unreadable(scope: ExecutionScope, key: string): WitErr | undefined {
    const envelope = scope.request.secret_envelope;
    if (!envelope || !Object.hasOwn(envelope.ciphertexts, key)) return witErr('missing');
    if (envelope.expires_at !== null) {
      const expiresAt = Date.parse(envelope.expires_at);
      // An unparseable expiry fails closed.
      if (Number.isNaN(expiresAt) || expiresAt <= now()) return witErr('expired');
    }
    return undefined;
  }

  function pinnedEntry(scope: ExecutionScope): SecretCacheEntry {
    const existing = scope.memo.get('secrets') as SecretsMemo | undefined;
    if (existing) return existing.entry;
    const { context, secret_envelope: envelope } = scope.request;
    const entry = cache.acquire(SecretCache.key(context.tenant_id, context.install_id, envelope!.version));
    scope.memo.set('secrets', { entry } satisfies SecretsMemo);
    scope.defer(() => cache.release(entry));
    return entry;
  }

  return {
    name: 'secrets',
    iface: 'secrets',
    capability: 'cap:secrets.get',
    functions: {
      async get(scope: ExecutionScope, key: string) {
        const refused = unreadable(scope, key);
        if (refused) return refused;
        const { context } = scope.request;
        const envelope = scope.request.secret_envelope!; // unreadable() checked it is there
        const entry = pinnedEntry(scope);
        let bytes = entry.values.get(key);
        metrics?.cacheLookup(bytes !== undefined);
        if (!bytes) {
          try {
            const plain = await decrypter.decrypt(
              envelope.ciphertexts[key]!,
              secretAad(context.tenant_id, context.install_id, key),
            );
            // A view, not a copy: wiping it wipes the only plaintext there is.
            bytes = Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
            metrics?.decrypt(true);
          } catch (error) {
            metrics?.decrypt(false);
            const reason = error instanceof TransitError ? error.reason : 'unknown';
            scope.logger.warn({ provider: 'secrets', key, reason }, 'secret could not be decrypted');
            return witErr('internal');
          }
          // A concurrent read may have filled it while we awaited.
          const raced = entry.values.get(key);
          if (raced) {
            bytes.fill(0);
            bytes = raced;
          } else if (!entry.evicted) {
            entry.values.set(key, bytes);
          } else {
            // The entry was evicted while we decrypted: use the bytes once, keep nothing.
            const value = bytes.toString('utf8');
            bytes.fill(0);
            scope.secretValues.add(value);
            return value;
          }
        }
        const value = bytes.toString('utf8');
        scope.secretValues.add(value);
        return value;
      },
      listKeys(scope: ExecutionScope) {
        return Object.keys(scope.request.secret_envelope?.ciphertexts ?? {});
      },
    },
    /**
     * Values this install's cache entry already holds, for the worker to
     * answer `get` without a bridge round trip. The entry is pinned for the
     * execution as a bridged read would pin it, and every value shipped is
     * masked in its log lines whether or not the guest reads it.
     */
    prefetch(scope: ExecutionScope) {
      const { context, secret_envelope: envelope } = scope.request;
      if (!envelope || !cache.has(SecretCache.key(context.tenant_id, context.install_id, envelope.version))) {
        return undefined;
      }
      const entry = pinnedEntry(scope);
      const values: Record<string, string> = {};
      for (const [key, bytes] of entry.values) {
        if (unreadable(scope, key)) continue;
        const value = bytes.toString('utf8');
        scope.secretValues.add(value);
        values[key] = value;
        metrics?.cacheLookup(true);
      }
      return { get: values };
    },
    denied(fn) {
      // `list-keys` has no error variant: an empty list reveals nothing.
      if (fn === 'listKeys') return [];
      return witErr('denied');
    },
  };
}
