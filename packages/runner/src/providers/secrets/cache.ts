/**
 * Decrypted secret material, cached per (tenant, install, envelope version)
 * for a short TTL so a busy install does not call transit on every request.
 *
 * Entries hold Buffers (not strings) so eviction can wipe them. An execution
 * pins the entry it first used: if the entry is evicted mid-execution its
 * bytes are wiped only when the last execution using it releases it.
 */
import { LRUCache } from 'lru-cache';

export interface SecretCacheEntry {
  /** Secret key → decrypted bytes, filled lazily as keys are read. */
  readonly values: Map<string, Buffer>;
  pins: number;
  evicted: boolean;
}

export interface SecretCacheOptions {
  ttlMs: number;
  /** Number of (tenant, install, version) entries kept. */
  maxEntries: number;
}

function wipe(entry: SecretCacheEntry): void {
  for (const buffer of entry.values.values()) buffer.fill(0);
  entry.values.clear();
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

  /** Returns the entry for `key`, creating it, and pins it until `release`. */
  acquire(key: string): SecretCacheEntry {
    let entry = this.#lru.get(key);
    if (!entry) {
      entry = { values: new Map(), pins: 0, evicted: false };
      this.#lru.set(key, entry);
    }
    entry.pins += 1;
    return entry;
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
