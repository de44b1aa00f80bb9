/**
 * Per-install rate limit, so one tenant's busy extension cannot starve the
 * runners for everyone else: `@fastify/rate-limit`'s fixed window, keyed by
 * install. An install may send `burst` requests per window of
 * `burst / perSecond` seconds: all at once after a quiet spell, `perSecond`
 * on average. Windows live in an LRU (bounded memory however many installs
 * exist); an evicted one just starts afresh, which errs on the side of
 * serving. Per process: with N server replicas the effective limit is N × this one.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fastifyRateLimit, { type CreateRateLimitOptions } from '@fastify/rate-limit';

export interface RateLimitOptions {
  /** Sustained requests per second per install. */
  perSecond: number;
  /** Requests an idle install may send at once. Default: 2 × perSecond (at least 1). */
  burst?: number;
  /** Installs tracked at once. Default 10 000. */
  maxInstalls?: number;
}

/**
 * Stops a runaway client, not normal use: set near what one server serves, so an extension
 * used across a tenant, or a load test, is not refused. Fairness between installs on busy
 * runners is the runner's scheduling (docs/perf/043-fair-scheduling.md), not this limit.
 */
export const DEFAULT_GATEWAY_RATE_LIMIT: RateLimitOptions = { perSecond: 1000, burst: 2000 };

/** Counts one request of the install; resolves 0 when allowed, else the seconds to wait (for Retry-After). */
export type InstallRateLimiter = (request: FastifyRequest, installId: string) => Promise<number>;

/** Registers `@fastify/rate-limit` (for no route of its own) in `app` and returns the per-install limiter. */
export async function installRateLimiter(app: FastifyInstance, options: RateLimitOptions): Promise<InstallRateLimiter> {
  if (!(options.perSecond > 0)) throw new RangeError('rate limit perSecond must be > 0');
  const burst = Math.max(1, options.burst ?? Math.ceil(options.perSecond * 2));
  await app.register(fastifyRateLimit, { global: false });
  // The install being counted, for the key generator: the limiter is called from the handler, once per request.
  const installOf = new WeakMap<FastifyRequest, string>();
  const limiterOptions: CreateRateLimitOptions & { cache: number } = {
    max: burst,
    timeWindow: Math.ceil((burst / options.perSecond) * 1000),
    keyGenerator: (request) => installOf.get(request) ?? '',
    // The LRU's size (the plugin passes it on to the store of each limiter it creates).
    cache: options.maxInstalls ?? 10_000,
  };
  const limit = app.createRateLimit(limiterOptions);
  return async (request, installId) => {
    installOf.set(request, installId);
    const result = await limit(request);
    return !result.isAllowed && result.isExceeded ? Math.max(1, result.ttlInSeconds) : 0;
  };
}

/**
 * `ALGA_GATEWAY_RATE_LIMIT` (requests per second per install, `0` = off) and
 * `ALGA_GATEWAY_RATE_BURST`; undefined when neither is set (server default).
 */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv): RateLimitOptions | false | undefined {
  const rate = env['ALGA_GATEWAY_RATE_LIMIT'];
  const burst = env['ALGA_GATEWAY_RATE_BURST'];
  if (rate === undefined && burst === undefined) return undefined;
  const perSecond = Number(rate ?? DEFAULT_GATEWAY_RATE_LIMIT.perSecond);
  if (!Number.isFinite(perSecond) || perSecond < 0) {
    throw new Error(`ALGA_GATEWAY_RATE_LIMIT must be a number ≥ 0, got ${JSON.stringify(rate)}.`);
  }
  if (perSecond === 0) return false;
  if (burst !== undefined && !(Number(burst) >= 1)) {
    throw new Error(`ALGA_GATEWAY_RATE_BURST must be a number ≥ 1, got ${JSON.stringify(burst)}.`);
  }
  return { perSecond, ...(burst === undefined ? {} : { burst: Number(burst) }) };
}
