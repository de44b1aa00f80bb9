/**
 * `@alga-psa/runner`: the stateless runner. `createRunner` builds the whole
 * runner in-process (for tests and embedding); `main.ts` is the process.
 */
import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Decrypter } from '@alga-psa/transit';
import type { ServiceTokenVerifier } from '@alga-psa/service-auth';
import { buildApp } from './app.ts';
import { Engine } from './engine/index.ts';
import { RunnerMetrics } from './metrics.ts';
import { createProviders, SecretCache } from './providers/index.ts';
import type { PrivateAllowList } from './providers/http/address.ts';
import { bundleStoreCheck, transitCheck } from './readiness.ts';
import { createLogger } from './logger.ts';
import type { LogLevel } from './config.ts';

export { loadConfig, ConfigError, type RunnerConfig, type LogLevel } from './config.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
export { PrivateAllowList } from './providers/http/address.ts';
export type { Provider, ExecutionScope, HostFunction } from './providers/types.ts';

export interface RunnerOptions {
  bundleStore: BundleStore;
  decrypter: Decrypter;
  /** Verifies the server's `alga-runner` tokens on `/v1/execute` (public key only). */
  verifier: ServiceTokenVerifier;
  /** Worker threads (default min(2, CPUs)). */
  workers?: number;
  /** Executions allowed to wait when every worker is busy (default workers × 8). */
  queueLimit?: number;
  /** Deadline when a request names none (default 5000). */
  defaultTimeoutMs?: number;
  /** Upper bound on any request's deadline (default 30000). */
  maxTimeoutMs?: number;
  /** Linear memory cap for a request that names none, in MiB (default 128). */
  defaultMemoryMb?: number;
  /** Upper bound on any request's `limits.memory_mb` (default 512). */
  maxMemoryMb?: number;
  /** V8 old-generation heap per worker in MiB, a backstop to the wasm cap (default 256). */
  workerHeapMb?: number;
  /** Operator-configured ui-proxy routes: route name → http(s) URL. */
  uiProxyRoutes?: ReadonlyMap<string, URL>;
  /** The server's base URL, for storage and guest-log shipping (`ALGA_SERVER_URL`). */
  serverUrl?: string | undefined;
  /** Private ranges the http provider may reach (`RUNNER_HTTP_ALLOW_PRIVATE`; default none). */
  httpAllowPrivate?: PrivateAllowList;
  /** How long decrypted secrets stay cached (default 60000). */
  secretCacheTtlMs?: number;
  /** (tenant, install, version) entries in the secret cache (default 1000). */
  secretCacheMaxEntries?: number;
  /** Compiled components kept in memory (default 32). */
  maxCachedComponents?: number;
  /** Largest accepted request body in bytes (default 16 MiB). */
  bodyLimit?: number;
  logger?: { level?: LogLevel; stream?: DestinationStream };
}

export interface Runner {
  app: FastifyInstance;
  metrics: RunnerMetrics;
  /** Stops accepting requests, fails queued ones, terminates workers, wipes caches. */
  close(): Promise<void>;
}

export async function createRunner(options: RunnerOptions): Promise<Runner> {
  const logger = createLogger(options.logger);
  const workers = options.workers ?? Math.min(2, availableParallelism());
  const secretCache = new SecretCache({
    ttlMs: options.secretCacheTtlMs ?? 60_000,
    maxEntries: options.secretCacheMaxEntries ?? 1000,
  });
  // The gauge reads the pool only when scraped, so the engine can be built after the metrics.
  const metrics: RunnerMetrics = new RunnerMetrics(() => engine.stats);
  const providers = createProviders({
    decrypter: options.decrypter,
    secretCache,
    secretsMetrics: metrics,
    uiProxy: { routes: options.uiProxyRoutes ?? new Map() },
    serverUrl: options.serverUrl,
    ...(options.httpAllowPrivate ? { http: { allowPrivate: options.httpAllowPrivate } } : {}),
  });
  const engine: Engine = new Engine({
    bundleStore: options.bundleStore,
    providers,
    workers,
    queueLimit: options.queueLimit ?? workers * 8,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 5000,
    maxTimeoutMs: options.maxTimeoutMs ?? 30_000,
    defaultMemoryMb: options.defaultMemoryMb ?? 128,
    maxMemoryMb: options.maxMemoryMb ?? 512,
    resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb ?? 256 },
    metrics,
    ...(options.maxCachedComponents === undefined ? {} : { maxCachedComponents: options.maxCachedComponents }),
    logger: logger.child({ component: 'engine' }),
  });
  const app = buildApp({
    engine,
    logger,
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    verifier: options.verifier,
    readiness: [bundleStoreCheck(options.bundleStore), transitCheck(options.decrypter)],
    metrics,
  });
  app.addHook('onClose', async () => {
    await engine.close();
    await Promise.all(providers.map((provider) => provider.close?.()));
    secretCache.clear();
  });
  return {
    app,
    metrics,
    close: () => app.close(),
  };
}
