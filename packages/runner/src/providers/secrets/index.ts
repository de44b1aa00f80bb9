/**
 * `alga:extension/secrets`: the install's secrets, decrypted on demand from
 * the envelope the server sent. Unlocked by `cap:secrets.get`.
 *
 * The runner is the only party that can decrypt; values never appear in a
 * log line (every value read here is added to the execution's mask set).
 *
 * A secret whose manifest setting lists `egress` hosts (`request.secret_egress`)
 * never reaches the guest: `get` answers `denied` (the SDK then asks
 * `egress-hosts` and tells the author to use a handle), and `handle` answers
 * a random placeholder bound to this execution that the http provider
 * replaces with the value on a request to one of those hosts only.
 */
import { Type } from 'typebox';
import { secretAad } from '@alga-psa/protocol';
import { TransitError, type Decrypter } from '@alga-psa/transit';
import { endSpan } from '@alga-psa/protocol/tracing';
import { executionState, providerSpan, witErr, type ExecutionScope, type WitErr } from '../../host-calls/index.ts';
import { egressOf, secretHandles } from '../../host-calls/secret-handles.ts';
import { addMasked, sortedForms } from '../../redact.ts';
import { defineProvider, type ProviderImpl } from '../types.ts';
import { SecretCache, type SecretCacheEntry } from './cache.ts';

export { SecretCache, SecretCacheEntry } from './cache.ts';

/** Counts for the runner's /metrics; never given a key name or a value. */
export interface SecretsMetrics {
  cacheLookup(hit: boolean): void;
  decrypt(ok: boolean): void;
}

export interface SecretsOptions {
  decrypter: Decrypter;
  cache: SecretCache;
  metrics?: SecretsMetrics | undefined;
  /** Clock, for tests of expiry. */
  now?: () => number;
}

/** A value's place in the secret cache, where its masking forms are kept. */
interface Cached {
  entry: SecretCacheEntry;
  key: string;
}

/** The cache entry this execution pinned, released when it ends. */
function pinned(cache: SecretCache) {
  return executionState('secrets.entry', (scope): SecretCacheEntry => {
    const { context, secret_envelope: envelope } = scope.request;
    const entry = cache.acquire(SecretCache.key(context.tenant_id, context.install_id, envelope!.version));
    scope.defer(() => cache.release(entry));
    return entry;
  });
}

/** The provider's implementation over a given cache (the runner's, or a test's). */
export function secretsImpl(options: SecretsOptions): ProviderImpl<'secrets'> {
  const { decrypter, cache, metrics } = options;
  const now = options.now ?? Date.now;
  const entryOf = pinned(cache);

  /** The envelope's answer before any decrypt: `missing` / `expired`, or undefined when the key can be read. */
  function unreadable(scope: ExecutionScope, key: string): WitErr | undefined {
    const envelope = scope.request.secret_envelope;
    if (!envelope || !Object.hasOwn(envelope.ciphertexts, key)) return witErr('missing');
    // The envelope's own expiry, then the key's (a secret set with an expiry).
    for (const at of [envelope.expires_at, envelope.key_expires_at?.[key]]) {
      if (at === null || at === undefined) continue;
      const expiresAt = Date.parse(at);
      // An unparseable expiry fails closed.
      if (Number.isNaN(expiresAt) || expiresAt <= now()) return witErr('expired');
    }
    return undefined;
  }

  /**
   * From now on, every line of this execution masks the value. One from the
   * cache entry `from` comes with its masking forms, computed once per entry
   * (docs/perf/036-log-batches.md).
   */
  function masked(scope: ExecutionScope, bytes: Buffer, from: Cached | undefined): string {
    const value = bytes.toString('utf8');
    let forms: readonly string[] | undefined;
    if (from) {
      forms = from.entry.forms.get(from.key);
      if (!forms) {
        forms = sortedForms(value);
        if (!from.entry.evicted) from.entry.forms.set(from.key, forms);
      }
    }
    addMasked(scope.masked, value, forms);
    return value;
  }

  /** Hands a value to the guest: from now on, every line of this execution masks it. */
  function reveal(scope: ExecutionScope, bytes: Buffer, from?: Cached): string {
    return masked(scope, bytes, from);
  }

  async function decrypt(scope: ExecutionScope, key: string): Promise<Buffer | WitErr> {
    const { context } = scope.request;
    const ciphertext = scope.request.secret_envelope!.ciphertexts[key]!; // unreadable() checked it is there
    // Neither key name nor ciphertext on the span: the transit failure reason only.
    const span = providerSpan(scope, 'secrets decrypt');
    try {
      const plain = await decrypter.decrypt(ciphertext, secretAad(context.tenant_id, context.install_id, key));
      metrics?.decrypt(true);
      if (span) endSpan(span);
      // A view, not a copy: wiping it wipes the only plaintext there is.
      return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
    } catch (error) {
      metrics?.decrypt(false);
      const reason = error instanceof TransitError ? error.reason : 'unknown';
      if (span) endSpan(span, { code: reason });
      scope.logger.warn({ provider: 'secrets', key, reason }, 'secret could not be decrypted');
      return witErr('internal');
    }
  }

  /** The value's bytes from the pinned cache entry, decrypting on a miss; the caller decides who sees it. */
  async function read(
    scope: ExecutionScope,
    key: string,
    use: (bytes: Buffer, from?: Cached) => string,
  ): Promise<string | WitErr> {
    const entry = scope.state(entryOf);
    const cached = entry.values.get(key);
    metrics?.cacheLookup(cached !== undefined);
    if (cached) return use(cached, { entry, key });
    const bytes = await decrypt(scope, key);
    if (!Buffer.isBuffer(bytes)) return bytes;
    // A concurrent read may have filled it while we awaited.
    const raced = entry.values.get(key);
    if (raced) {
      bytes.fill(0);
      return use(raced, { entry, key });
    }
    if (!entry.evicted) {
      entry.values.set(key, bytes);
      return use(bytes, { entry, key });
    }
    // The entry was evicted while we decrypted: use the bytes once, keep nothing.
    const value = use(bytes);
    bytes.fill(0);
    return value;
  }

  /** For the http provider only: the value masked in this execution's lines, never handed to the guest. */
  function forEgress(scope: ExecutionScope, bytes: Buffer, from?: Cached): string {
    return masked(scope, bytes, from);
  }

  return {
    functions: {
      async get(scope, key) {
        const refused = unreadable(scope, key);
        if (refused) return refused;
        if (egressOf(scope, key)) {
          scope.logger.warn(
            { provider: 'secrets', key },
            `secrets.get refused: secret "${key}" lists egress hosts in the manifest, so the guest never reads it; use ctx.secrets.handle("${key}") in an http request to one of them`,
          );
          return witErr('denied');
        }
        return read(scope, key, (bytes, from) => reveal(scope, bytes, from));
      },
      handle(scope, key) {
        const refused = unreadable(scope, key);
        if (refused) return refused;
        const hosts = egressOf(scope, key);
        if (!hosts) {
          scope.logger.warn(
            { provider: 'secrets', key },
            `secrets.handle refused: secret "${key}" lists no egress hosts in the manifest; read it with ctx.secrets.get or add "egress" to its setting`,
          );
          return witErr('denied');
        }
        // Resolved when a request carrying the handle goes out, at this request's envelope version.
        return scope.state(secretHandles).mint(key, hosts, async () => {
          if (unreadable(scope, key)) return undefined;
          const value = await read(scope, key, (bytes, from) => forEgress(scope, bytes, from));
          return typeof value === 'string' ? value : undefined;
        });
      },
      egressHosts: (scope, key) => scope.request.secret_egress?.[key] ?? [],
      listKeys: (scope) => Object.keys(scope.request.secret_envelope?.ciphertexts ?? {}),
    },
    /**
     * Values this install's cache entry already holds, for the worker to
     * answer `get` without a bridge round trip. The entry is pinned for the
     * execution as a bridged read would pin it, and every value shipped is
     * masked in its log lines whether or not the guest reads it.
     */
    prefetch(scope) {
      const { context, secret_envelope: envelope } = scope.request;
      if (!envelope || !cache.has(SecretCache.key(context.tenant_id, context.install_id, envelope.version))) {
        return undefined;
      }
      const entry = scope.state(entryOf);
      const values: Record<string, string> = {};
      for (const [key, bytes] of entry.values) {
        // An egress-bound value stays on this thread: the worker would hand it to the guest.
        if (unreadable(scope, key) || egressOf(scope, key)) continue;
        values[key] = reveal(scope, bytes, { entry, key });
        metrics?.cacheLookup(true);
      }
      return { get: values };
    },
    denied(fn) {
      // `list-keys` has no error variant: an empty list reveals nothing.
      if (fn === 'listKeys' || fn === 'egressHosts') return [];
      return witErr('denied');
    },
  };
}

export const secretsProvider = defineProvider({
  iface: 'secrets',
  settings: {
    secretCacheTtlMs: Type.Integer({
      minimum: 1,
      default: 60_000,
      env: 'RUNNER_SECRET_CACHE_TTL_MS',
      description: 'How long decrypted secrets stay cached (and keep serving during a transit outage).',
    }),
    secretCacheMaxEntries: Type.Integer({
      minimum: 1,
      default: 1000,
      description: '(tenant, install, version) entries in the secret cache.',
    }),
  },
  warmUp: { get: witErr('missing'), listKeys: [], handle: witErr('missing'), egressHosts: [] },
  create({ settings, deps }) {
    const cache = new SecretCache({ ttlMs: settings.secretCacheTtlMs, maxEntries: settings.secretCacheMaxEntries });
    return {
      ...secretsImpl({ decrypter: deps.decrypter, cache, metrics: deps.metrics }),
      async close() {
        cache.clear();
      },
    };
  },
});
