/**
 * `@alga-psa/runner`: the stateless runner. `createRunner` builds the whole
 * runner in-process (for the runner process, tests and embedding); `main.ts`
 * is the process. Settings not given take the same defaults the process
 * reads from its environment (settings.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Tracing } from '@alga-psa/protocol/tracing';
import type { Decrypter } from '@alga-psa/transit';
import type { ServiceTokenVerifier } from '@alga-psa/service-auth';
import type { TrustPolicy } from '@alga-psa/service-auth/bundle-signature';
import { buildApp } from './app.ts';
import { BundleTrust } from './trust.ts';
import { Engine, TranspileCache } from './engine/index.ts';
import { createLogger } from './logger.ts';
import { RunnerMetrics } from './metrics.ts';
import { createProviders, type StandIns } from './providers/index.ts';
import { bundleStoreCheck, transitCheck } from './readiness.ts';
import { createServerApi } from './server-api/client.ts';
import { resolveSettings, type RunnerSettings } from './settings.ts';

export {
  readSettings,
  resolveSettings,
  settingsReference,
  SettingsError,
  type RunnerConfig,
  type RunnerSettings,
  type LogLevel,
} from './settings.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
export { PrivateAllowList } from './providers/http/address.ts';
export type { Provider, StandIns } from './providers/types.ts';
export type { ExecutionScope } from './host-calls/index.ts';

export interface RunnerDeps {
  bundleStore: BundleStore;
  decrypter: Decrypter;
  /** Verifies the server's `alga-runner` tokens (public key only). */
  verifier: ServiceTokenVerifier;
  /** Where log lines go (default stdout). */
  logStream?: DestinationStream;
  /** Stand-in functions for some interfaces (`alga test`); see `ProviderDeps.standIns`. */
  standIns?: StandIns;
  /** Publisher signatures every bundle must pass before it is compiled (trust.ts); absent: not checked. */
  trustPolicy?: TrustPolicy | undefined;
  /** OpenTelemetry tracing (`startTracing` from the OTEL_* variables); absent: off. */
  tracing?: Tracing | undefined;
}

export type RunnerOptions = RunnerDeps & Partial<RunnerSettings>;

export interface Runner {
  app: FastifyInstance;
  metrics: RunnerMetrics;
  settings: RunnerSettings;
  /** Stops accepting requests, fails queued ones, terminates workers, wipes caches. */
  close(): Promise<void>;
}

export async function createRunner(options: RunnerOptions): Promise<Runner> {
  const { bundleStore, decrypter, verifier, logStream, standIns, trustPolicy, tracing, ...given } = options;
  const settings = resolveSettings(given);
  const logger = createLogger({ level: settings.logLevel, ...(logStream ? { stream: logStream } : {}) });
  // The gauges read the engine only when scraped, so the engine can be built after the metrics.
  const metrics: RunnerMetrics = new RunnerMetrics(() => engine.stats);
  const providers = createProviders(settings, {
    decrypter,
    metrics,
    serverApi: settings.serverUrl ? createServerApi({ serverUrl: settings.serverUrl }) : undefined,
    standIns,
  });
  // Opened now so a cache directory another user could write to stops the start, naming it.
  const transpileCache = settings.transpileCacheDir ? new TranspileCache(settings.transpileCacheDir) : undefined;
  await transpileCache?.open();
  const engine: Engine = new Engine({
    bundleStore,
    providers,
    workers: settings.workers,
    queueLimit: settings.queueLimit,
    defaultTimeoutMs: settings.defaultTimeoutMs,
    maxTimeoutMs: settings.maxTimeoutMs,
    defaultMemoryMb: settings.defaultMemoryMb,
    maxMemoryMb: settings.maxMemoryMb,
    resourceLimits: { maxOldGenerationSizeMb: settings.workerHeapMb },
    maxCachedComponents: settings.maxCachedComponents,
    transpileCache,
    instanceMode: settings.instanceMode,
    inlineFuel: settings.inlineFuel,
    metrics,
    logger: logger.child({ component: 'engine' }),
    tracing,
  });
  const app = buildApp({
    engine,
    logger,
    bodyLimit: settings.bodyLimit,
    verifier,
    ...(trustPolicy ? { trust: new BundleTrust(trustPolicy, logger.child({ component: 'trust' })) } : {}),
    readiness: [bundleStoreCheck(bundleStore), transitCheck(decrypter)],
    metrics,
    tracing,
  });
  app.addHook('onClose', async () => {
    await engine.close();
    await Promise.all(providers.map((provider) => provider.close?.()));
  });
  return { app, metrics, settings, close: () => app.close() };
}
