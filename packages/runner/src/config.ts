/**
 * The runner's process configuration, read from the environment once at
 * start-up. Every problem is reported at once, naming the variable.
 */
import { availableParallelism } from 'node:os';
import { transitEnvProblems, type TransitKind } from '@alga-psa/transit';
import { PrivateAllowList } from './providers/http/address.ts';
import { parseUiProxyRoutes } from './providers/ui-proxy/index.ts';
import { busyPollFromEnv, inlineFuelFromEnv, instanceModeFromEnv, wasmTieringFromEnv } from './engine/index.ts';

/**
 * Default `RUNNER_QUEUE_LIMIT` per worker. A request takes ~0.1–0.3 ms, so 64
 * waiting per worker is ~10–20 ms of work: enough to ride out a GC pause or a
 * burst at a load the runner sustains (8 per worker shed up to 5% of requests
 * at 1,000–1,500 req/s through the gateway, well under its capacity there),
 * still bounded well below the request deadline. A waiting request holds only
 * its parsed body.
 */
export const QUEUE_PER_WORKER = 64;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RunnerConfig {
  host: string;
  /** 0 picks an ephemeral port. */
  port: number;
  /** `ALGA_BUNDLE_STORE`: `dir` (ALGA_BUNDLE_DIR) or `s3` (built by `bundleStoreFromEnv` in main). */
  bundleStore: 'dir' | 's3';
  /** Empty when the bundle store is S3. */
  bundleDir: string;
  /** `ALGA_TRANSIT`: `local` (ALGA_TRANSIT_KEY_FILE) or `vault` (VAULT_*; decrypt only). */
  transit: TransitKind;
  /** Empty when transit is Vault. */
  transitKeyFile: string;
  /** Public key that verifies the server's service tokens. */
  serviceVerifyKeyFile: string;
  workers: number;
  /** Executions allowed to wait when every worker is busy. */
  queueLimit: number;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  secretCacheTtlMs: number;
  defaultMemoryMb: number;
  maxMemoryMb: number;
  /** V8 heap per worker, a backstop to the wasm memory cap. */
  workerHeapMb: number;
  /** ui-proxy route name → URL, from the operator. */
  uiProxyRoutes: Map<string, URL>;
  /** Private ranges outbound HTTP may reach (`RUNNER_HTTP_ALLOW_PRIVATE`); empty in production. */
  httpAllowPrivate: PrivateAllowList;
  /** The server's base URL for storage and guest-log shipping (`ALGA_SERVER_URL`, optional). */
  serverUrl?: string | undefined;
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid runner configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): RunnerConfig {
  const problems: string[] = [];

  const text = (name: string, fallback?: string): string => {
    const value = env[name]?.trim();
    if (value) return value;
    if (fallback === undefined) problems.push(`${name} is required.`);
    return fallback ?? '';
  };

  const integer = (name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}.`);
      return fallback;
    }
    return value;
  };

  const bundleStore = env.ALGA_BUNDLE_STORE?.trim() || 'dir';
  if (bundleStore !== 'dir' && bundleStore !== 's3') {
    problems.push(`ALGA_BUNDLE_STORE must be "dir" or "s3", got ${JSON.stringify(bundleStore)}.`);
  }
  if (bundleStore === 's3') {
    // Credentials are read from their files in main (bundleStoreFromEnv), which names any that are missing.
    const missing = ['S3_ENDPOINT', 'S3_BUCKET'].filter((name) => !env[name]?.trim());
    if (missing.length > 0) problems.push(`ALGA_BUNDLE_STORE=s3 needs ${missing.join(', ')}.`);
  }
  const transit = (env.ALGA_TRANSIT?.trim() || 'local') as TransitKind;
  problems.push(...transitEnvProblems(env));

  const workers = integer('RUNNER_WORKERS', Math.min(2, availableParallelism()), 1, 256);
  const config: RunnerConfig = {
    host: text('RUNNER_HOST', '127.0.0.1'),
    port: integer('RUNNER_PORT', 8081, 0, 65535),
    bundleStore: bundleStore === 's3' ? 's3' : 'dir',
    bundleDir: bundleStore === 's3' ? '' : text('ALGA_BUNDLE_DIR'),
    transit,
    // transitEnvProblems already names a missing key file.
    transitKeyFile: transit === 'local' ? text('ALGA_TRANSIT_KEY_FILE', '') : '',
    serviceVerifyKeyFile: text('ALGA_SERVICE_VERIFY_KEY_FILE'),
    workers,
    queueLimit: integer('RUNNER_QUEUE_LIMIT', workers * QUEUE_PER_WORKER, 0),
    defaultTimeoutMs: integer('RUNNER_DEFAULT_TIMEOUT_MS', 5000, 1),
    maxTimeoutMs: integer('RUNNER_MAX_TIMEOUT_MS', 30000, 1),
    secretCacheTtlMs: integer('RUNNER_SECRET_CACHE_TTL_MS', 60000, 1),
    // 16 MiB is below what any componentize-js guest needs just to start.
    defaultMemoryMb: integer('RUNNER_DEFAULT_MEMORY_MB', 128, 16, 65536),
    maxMemoryMb: integer('RUNNER_MAX_MEMORY_MB', 512, 16, 65536),
    workerHeapMb: integer('RUNNER_WORKER_HEAP_MB', 256, 32, 65536),
    uiProxyRoutes: new Map(),
    httpAllowPrivate: new PrivateAllowList(),
    ...(env.ALGA_SERVER_URL?.trim() ? { serverUrl: env.ALGA_SERVER_URL.trim() } : {}),
    logLevel: 'info',
  };
  try {
    config.uiProxyRoutes = parseUiProxyRoutes(env.RUNNER_UI_PROXY_ROUTES);
  } catch (error) {
    problems.push(`RUNNER_UI_PROXY_ROUTES ${(error as Error).message}`);
  }

  try {
    config.httpAllowPrivate = PrivateAllowList.parse(env.RUNNER_HTTP_ALLOW_PRIVATE);
  } catch (error) {
    problems.push(
      `RUNNER_HTTP_ALLOW_PRIVATE: ${(error as Error).message} Use comma-separated CIDRs, e.g. 127.0.0.0/8.`,
    );
  }

  // Read again by the engine when it is built (so every embedding honours them); checked here so
  // that a bad value is reported with the rest, before anything starts.
  for (const check of [instanceModeFromEnv, wasmTieringFromEnv, busyPollFromEnv, inlineFuelFromEnv]) {
    try {
      check(env);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }

  const level = env.LOG_LEVEL?.trim();
  if (level) {
    if ((LOG_LEVELS as readonly string[]).includes(level)) config.logLevel = level as LogLevel;
    else problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}.`);
  }
  if (config.defaultTimeoutMs > config.maxTimeoutMs) {
    problems.push(
      `RUNNER_DEFAULT_TIMEOUT_MS (${config.defaultTimeoutMs}) must not exceed RUNNER_MAX_TIMEOUT_MS (${config.maxTimeoutMs}).`,
    );
  }

  if (config.defaultMemoryMb > config.maxMemoryMb) {
    problems.push(
      `RUNNER_DEFAULT_MEMORY_MB (${config.defaultMemoryMb}) must not exceed RUNNER_MAX_MEMORY_MB (${config.maxMemoryMb}).`,
    );
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
