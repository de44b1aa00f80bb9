/**
 * Per-install rate limit: one token bucket per install, so one tenant's busy
 * extension cannot starve the runners for everyone else. Buckets live in an
 * LRU (bounded memory however many installs exist); an evicted bucket just
 * starts full again, which errs on the side of serving. Per process: with N
 * server replicas the effective limit is N × this one.
 */
import { LRUCache } from 'lru-cache';

export interface RateLimitOptions {
  /** Sustained requests per second per install. */
  perSecond: number;
  /** Requests an idle install may send at once. Default: 2 × perSecond (at least 1). */
  burst?: number;
  /** Installs tracked at once. Default 10 000. */
  maxInstalls?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class InstallRateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #buckets: LRUCache<string, Bucket>;
  readonly #now: () => number;

  constructor(options: RateLimitOptions, now: () => number = () => performance.now()) {
    if (!(options.perSecond > 0)) throw new RangeError('rate limit perSecond must be > 0');
    this.#perMs = options.perSecond / 1000;
    this.#burst = Math.max(1, options.burst ?? Math.ceil(options.perSecond * 2));
    this.#buckets = new LRUCache({ max: options.maxInstalls ?? 10_000 });
    this.#now = now;
  }

  /** Takes one token; returns 0 when allowed, else the seconds to wait (for Retry-After). */
  take(installId: string): number {
    const now = this.#now();
    const bucket = this.#buckets.get(installId) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    this.#buckets.set(installId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }
}

/**
 * `ALGA_GATEWAY_RATE_LIMIT` (requests per second per install, `0` = off) and
 * `ALGA_GATEWAY_RATE_BURST`; undefined when neither is set (server default).
 */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv): RateLimitOptions | false | undefined {
  const rate = env['ALGA_GATEWAY_RATE_LIMIT'];
  const burst = env['ALGA_GATEWAY_RATE_BURST'];
  if (rate === undefined && burst === undefined) return undefined;
  const perSecond = Number(rate ?? 50);
  if (!Number.isFinite(perSecond) || perSecond < 0) {
    throw new Error(`ALGA_GATEWAY_RATE_LIMIT must be a number ≥ 0, got ${JSON.stringify(rate)}.`);
  }
  if (perSecond === 0) return false;
  if (burst !== undefined && !(Number(burst) >= 1)) {
    throw new Error(`ALGA_GATEWAY_RATE_BURST must be a number ≥ 1, got ${JSON.stringify(burst)}.`);
  }
  return { perSecond, ...(burst === undefined ? {} : { burst: Number(burst) }) };
}
