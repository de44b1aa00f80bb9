/**
 * `@alga-psa/runner`: the stateless runner. `createRunner` builds the whole
 * runner in-process (for tests and embedding); `main.ts` is the process.
 */
import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Decrypter } from '@alga-psa/transit';
import { buildApp } from './app.ts';
import { Engine } from './engine/index.ts';
import { createProviders, SecretCache } from './providers/index.ts';
import type { LogLevel } from './config.ts';

export { loadConfig, ConfigError, type RunnerConfig, type LogLevel } from './config.ts';
export type { Provider, ExecutionScope, HostFunction } from './providers/types.ts';

export interface RunnerOptions {
  bundleStore: BundleStore;
  decrypter: Decrypter;
  /** Worker threads (default min(2, CPUs)). */
  workers?: number;
  /** Executions allowed to wait when every worker is busy (default workers × 8). */
  queueLimit?: number;
  /** Deadline when a request names none (default 5000). */
  defaultTimeoutMs?: number;
  /** Upper bound on any request's deadline (default 30000). */
  maxTimeoutMs?: number;
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
  /** Stops accepting requests, fails queued ones, terminates workers, wipes caches. */
  close(): Promise<void>;
}

/** Paths pino must never print, whatever a future log call passes it. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'secret_envelope',
  '*.secret_envelope',
  '*.*.secret_envelope',
];

export function createLogger(options: RunnerOptions['logger'] = {}): Logger {
  return pino(
    { level: options.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } },
    options.stream ?? pino.destination(1),
  );
}

export async function createRunner(options: RunnerOptions): Promise<Runner> {
  const logger = createLogger(options.logger);
  const workers = options.workers ?? Math.min(2, availableParallelism());
  const secretCache = new SecretCache({
    ttlMs: options.secretCacheTtlMs ?? 60_000,
    maxEntries: options.secretCacheMaxEntries ?? 1000,
  });
  const engine = new Engine({
    bundleStore: options.bundleStore,
    providers: createProviders({ decrypter: options.decrypter, secretCache }),
    workers,
    queueLimit: options.queueLimit ?? workers * 8,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 5000,
    maxTimeoutMs: options.maxTimeoutMs ?? 30_000,
    ...(options.maxCachedComponents === undefined ? {} : { maxCachedComponents: options.maxCachedComponents }),
    logger: logger.child({ component: 'engine' }),
  });
  const app = buildApp({ engine, logger, bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024 });
  app.addHook('onClose', async () => {
    await engine.close();
    secretCache.clear();
  });
  return {
    app,
    close: () => app.close(),
  };
}
