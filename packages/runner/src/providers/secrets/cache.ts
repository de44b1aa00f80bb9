/**
 * Decrypted secret material, cached per (tenant, install, envelope version)
 * for a short TTL so a busy install does not call transit on every request.
 *
 * Entries hold Buffers (not strings) so eviction can wipe them. An execution
 * pins the entry it first used: if the entry is evicted mid-execution its
 * bytes are wiped only when the last execution using it releases it.
 */
import { LRUCache } from 'lru-cache';
import { REDACTED } from '../../redact.ts';

/**
 * One (tenant, install, version)'s decrypted secrets. It prints as
 * `[REDACTED]` however it is printed (`util.inspect`, `JSON.stringify`,
 * string conversion), so a stray `log.info({ entry })` cannot leak bytes.
 */
export class SecretCacheEntry {
  /** Secret key → decrypted bytes, filled lazily as keys are read. */
  readonly values = new Map<string, Buffer>();
  /** Secret key → the value's masking forms (redact.ts `sortedForms`), computed once per entry, not per execution. */
  readonly forms = new Map<string, readonly string[]>();
  pins = 0;
  evicted = false;

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretCacheEntry(${REDACTED})`;
  }
  toJSON(): string {
    return REDACTED;
  }
  toString(): string {
    return REDACTED;
  }
}

export interface SecretCacheOptions {
  ttlMs: number;
  /** Number of (tenant, install, version) entries kept. */
  maxEntries: number;
}

function wipe(entry: SecretCacheEntry): void {
  for (const buffer of entry.values.values()) buffer.fill(0);
  entry.values.clear();
  entry.forms.clear();
}

export class SecretCache {
  readonly #lru: LRUCache<string, SecretCacheEntry>;

  constructor(options: SecretCacheOptions) {
    this.#lru = new LRUCache<string, SecretCacheEntry>({
      max: options.maxEntries,
      ttl: options.ttlMs,
      // Expire on time, not on next access: decrypted bytes should not outlive the TTL.
      ttlAutopurge: true,
      // A TTL counts from decryption; reading must not keep material alive forever.
      updateAgeOnGet: false,
      dispose: (entry) => {
        entry.evicted = true;
        if (entry.pins === 0) wipe(entry);
      },
    });
  }

  /** JSON keeps ids containing separators from colliding across tenants. */
  static key(tenantId: string, installId: string, version: string): string {
    return JSON.stringify([tenantId, installId, version]);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretCache(${REDACTED})`;
  }
  toJSON(): string {
    return REDACTED;
  }
  toString(): string {
    return REDACTED;
  }

  /** Returns the entry for `key`, creating it, and pins it until `release`. */
  acquire(key: string): SecretCacheEntry {
    let entry = this.#lru.get(key);
    if (!entry) {
      entry = new SecretCacheEntry();
      this.#lru.set(key, entry);
    }
    entry.pins += 1;
    return entry;
  }

  /** Whether `key` has a live entry; does not create one or refresh its place. */
  has(key: string): boolean {
    return this.#lru.has(key);
  }

  release(entry: SecretCacheEntry): void {
    entry.pins -= 1;
    if (entry.evicted && entry.pins === 0) wipe(entry);
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Evicts (and wipes) everything; used on shutdown. */
  clear(): void {
    this.#lru.clear();
  }
}
