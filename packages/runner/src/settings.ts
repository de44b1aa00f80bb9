/**
 * The runner's configuration, in one schema per section: each setting is a
 * TypeBox schema carrying its type, its default and the environment variable
 * an operator sets it with. The core sections are here; each provider brings
 * its own (`settings` in providers/<name>/index.ts), as Spin's factors bring
 * their runtime config.
 *
 * `readSettings(env)` reads the environment once at start and reports every
 * problem at once, naming the variable; `resolveSettings(partial)` fills in
 * the same defaults for embedders (`createRunner`, tests, `alga dev`). The
 * engine and the providers never read `process.env`.
 */
import { availableParallelism } from 'node:os';
import { IsCodec, Type, type StaticDecode, type TObject, type TProperties, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { transitEnvProblems, type TransitKind } from '@alga-psa/transit';
import { PROVIDERS } from './providers/index.ts';

/** Executions allowed to wait per worker; why 64: docs/perf/018-queue-per-worker.md. */
export const QUEUE_PER_WORKER = 64;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What `createRunner` is configured with, besides its dependencies. */
export const EngineSettings = {
  workers: Type.Integer({
    minimum: 1,
    maximum: 256,
    default: Math.min(2, availableParallelism()),
    env: 'RUNNER_WORKERS',
    description: 'Worker threads, i.e. concurrent executions.',
  }),
  queueLimit: Type.Optional(
    Type.Integer({
      minimum: 0,
      env: 'RUNNER_QUEUE_LIMIT',
      description: 'Executions waiting for a worker before 503 (default workers × 64).',
    }),
  ),
  defaultTimeoutMs: Type.Integer({ minimum: 1, default: 5000, env: 'RUNNER_DEFAULT_TIMEOUT_MS' }),
  maxTimeoutMs: Type.Integer({ minimum: 1, default: 30_000, env: 'RUNNER_MAX_TIMEOUT_MS' }),
  // 16 MiB is below what any componentize-js guest needs just to start.
  defaultMemoryMb: Type.Integer({ minimum: 16, maximum: 65536, default: 128, env: 'RUNNER_DEFAULT_MEMORY_MB' }),
  maxMemoryMb: Type.Integer({ minimum: 16, maximum: 65536, default: 512, env: 'RUNNER_MAX_MEMORY_MB' }),
  workerHeapMb: Type.Integer({
    minimum: 32,
    maximum: 65536,
    default: 256,
    env: 'RUNNER_WORKER_HEAP_MB',
    description: "V8 old-generation heap per worker, a backstop to the guest's memory cap.",
  }),
  instanceMode: Type.Enum(['reset', 'fresh'], {
    default: 'reset',
    env: 'RUNNER_INSTANCE_MODE',
    description: '`reset`: restore a warm instance in place after each request; `fresh`: a new instance per request.',
  }),
  inlineFuel: Type.Integer({
    minimum: 0,
    maximum: 1_000_000_000,
    default: 2_000_000,
    env: 'RUNNER_INLINE_FUEL',
    description: "Fuel a quick request may spend on the runner's own thread before a worker takes it; 0: workers only.",
  }),
  maxCachedComponents: Type.Integer({ minimum: 1, default: 32, description: 'Compiled components kept in memory.' }),
  transpileCacheDir: Type.Optional(
    Type.String({
      minLength: 1,
      env: 'RUNNER_TRANSPILE_CACHE_DIR',
      description:
        "A directory of the runner's own (0700) where transpiled components are kept across restarts; unset: none.",
    }),
  ),
  bodyLimit: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024, description: 'Largest execute request body.' }),
  serverUrl: Type.Optional(
    Type.String({ env: 'ALGA_SERVER_URL', description: "The server's base URL, for storage and guest-log shipping." }),
  ),
  logLevel: Type.Enum(LOG_LEVELS, { default: 'info', env: 'LOG_LEVEL' }),
} satisfies TProperties;

/** Read only by the runner process (main.ts), which builds the dependencies from them. */
export const ProcessSettings = {
  host: Type.String({ minLength: 1, default: '127.0.0.1', env: 'RUNNER_HOST' }),
  /** 0 picks an ephemeral port. */
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8081, env: 'RUNNER_PORT' }),
  /** `dir` (ALGA_BUNDLE_DIR) or `s3` (read by `bundleStoreFromEnv`). */
  bundleStoreKind: Type.Enum(['dir', 's3'], { default: 'dir', env: 'ALGA_BUNDLE_STORE' }),
  bundleDir: Type.String({ default: '', env: 'ALGA_BUNDLE_DIR' }),
  /** `local` (ALGA_TRANSIT_KEY_FILE) or `vault` (VAULT_*; decrypt only), checked by `transitEnvProblems`. */
  transit: Type.String({ default: 'local', env: 'ALGA_TRANSIT' }),
  transitKeyFile: Type.String({ default: '', env: 'ALGA_TRANSIT_KEY_FILE' }),
  /** The public key that verifies the server's service tokens. */
  serviceVerifyKeyFile: Type.String({ default: '', env: 'ALGA_SERVICE_VERIFY_KEY_FILE' }),
  /** The runner's own trust policy for publisher signatures (trust.ts); empty: signatures are not checked. */
  trustPolicyFile: Type.String({ default: '', env: 'RUNNER_TRUST_POLICY_FILE' }),
} satisfies TProperties;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type SectionOf<P> = P extends { readonly settings?: infer S }
  ? S extends TProperties
    ? StaticDecode<TObject<S>>
    : Record<never, never>
  : Record<never, never>;

/** The providers' settings, each provider's section merged in. */
export type ProviderSettings = UnionToIntersection<SectionOf<(typeof PROVIDERS)[number]>>;

/** Everything `createRunner` is configured with. */
export type RunnerSettings = StaticDecode<TObject<typeof EngineSettings>> & ProviderSettings & { queueLimit: number };

/** The runner process's whole configuration. */
export type RunnerConfig = RunnerSettings & StaticDecode<TObject<typeof ProcessSettings>> & { transit: TransitKind };

/** Every property of the runner's settings, the providers' sections included; names and variables are unique. */
function runnerProperties(): TProperties {
  const properties: TProperties = { ...EngineSettings };
  for (const provider of PROVIDERS) {
    if (provider.placement !== 'host' || !provider.settings) continue;
    for (const [key, schema] of Object.entries(provider.settings)) {
      if (Object.hasOwn(properties, key)) throw new Error(`Two sections of the runner's settings define "${key}".`);
      properties[key] = schema;
    }
  }
  return properties;
}

const RUNNER_PROPERTIES = runnerProperties();

export class SettingsError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid runner configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'SettingsError';
    this.problems = problems;
  }
}

const envName = (schema: TSchema): string | undefined => (schema as { env?: string }).env;

/** What a value of `schema` must be, for a message. */
function expectation(schema: TSchema): string {
  const literals = (schema as { enum?: unknown[] }).enum?.map(String);
  if (literals) return literals.length === 2 ? literals.join(' or ') : `one of ${literals.join(', ')}`;
  const { minimum, maximum } = schema as { minimum?: number; maximum?: number };
  if (maximum !== undefined) return `an integer between ${minimum ?? 0} and ${maximum}`;
  return `an integer of at least ${minimum ?? 0}`;
}

/** One variable's value, or a problem naming it. */
function parseVariable(name: string, schema: TSchema, raw: string): { value: unknown } | { problem: string } {
  const integer = (schema as { type?: string }).type === 'integer';
  const candidate = integer && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (!Value.Check(schema, candidate) && !IsCodec(schema)) {
    return { problem: `${name} must be ${expectation(schema)}, got ${JSON.stringify(raw)}.` };
  }
  try {
    return { value: Value.Decode(schema, candidate) };
  } catch (error) {
    return { problem: `${name}: ${(error as Error).message}` };
  }
}

function readProperties(properties: TProperties, env: Record<string, string | undefined>, problems: string[]) {
  const values: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    const name = envName(property);
    const raw = name === undefined ? undefined : env[name]?.trim();
    if (!name || !raw) continue;
    const parsed = parseVariable(name, property, raw);
    if ('problem' in parsed) problems.push(parsed.problem);
    else values[key] = parsed.value;
  }
  return values;
}

/** `properties`' defaults for every key `given` lacks. */
function withDefaults(properties: TProperties, given: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    if (given[key] !== undefined) values[key] = given[key];
    else if ('default' in property) values[key] = Value.Decode(property, structuredClone(property.default));
  }
  return values;
}

/** Checks no single schema can: defaults within their ceilings. */
function crossProblems(settings: RunnerSettings): string[] {
  const problems: string[] = [];
  if (settings.defaultTimeoutMs > settings.maxTimeoutMs) {
    problems.push(
      `RUNNER_DEFAULT_TIMEOUT_MS (${settings.defaultTimeoutMs}) must not exceed RUNNER_MAX_TIMEOUT_MS (${settings.maxTimeoutMs}).`,
    );
  }
  if (settings.defaultMemoryMb > settings.maxMemoryMb) {
    problems.push(
      `RUNNER_DEFAULT_MEMORY_MB (${settings.defaultMemoryMb}) must not exceed RUNNER_MAX_MEMORY_MB (${settings.maxMemoryMb}).`,
    );
  }
  return problems;
}

/** The runner's settings with every default filled in; throws `SettingsError` for contradictory values. */
export function resolveSettings(given: Partial<RunnerSettings> = {}): RunnerSettings {
  const values = withDefaults(RUNNER_PROPERTIES, given as Record<string, unknown>) as RunnerSettings;
  values.queueLimit ??= values.workers * QUEUE_PER_WORKER;
  const problems = crossProblems(values);
  if (problems.length > 0) throw new SettingsError(problems);
  return values;
}

/** The runner process's configuration from its environment; every problem at once in one `SettingsError`. */
export function readSettings(env: Record<string, string | undefined> = process.env): RunnerConfig {
  const problems: string[] = [];
  const runner = readProperties(RUNNER_PROPERTIES, env, problems);
  const processValues = withDefaults(ProcessSettings, readProperties(ProcessSettings, env, problems));
  if (processValues.bundleStoreKind === 'dir' && !processValues.bundleDir)
    problems.push('ALGA_BUNDLE_DIR is required.');
  if (processValues.bundleStoreKind === 's3') {
    // Credentials are read from their files by bundleStoreFromEnv, which names any that are missing.
    const missing = ['S3_ENDPOINT', 'S3_BUCKET'].filter((name) => !env[name]?.trim());
    if (missing.length > 0) problems.push(`ALGA_BUNDLE_STORE=s3 needs ${missing.join(', ')}.`);
  }
  problems.push(...transitEnvProblems(env));
  if (!processValues.serviceVerifyKeyFile) problems.push('ALGA_SERVICE_VERIFY_KEY_FILE is required.');
  let settings: RunnerSettings | undefined;
  try {
    settings = resolveSettings(runner as Partial<RunnerSettings>);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || !settings) throw new SettingsError(problems);
  return { ...settings, ...processValues } as RunnerConfig;
}

/**
 * The `RUNNER_*` variables in `env` that no setting reads: a misspelt or
 * retired one would otherwise be ignored without a word.
 */
export function unknownVariables(env: Record<string, string | undefined>): string[] {
  const known = new Set(settingsReference().map(({ env: name }) => name));
  return Object.keys(env).filter((name) => name.startsWith('RUNNER_') && !known.has(name));
}

/** Every setting an operator can set, for docs and checks: variable, default, description. */
export function settingsReference(): Array<{ env: string; default: unknown; description: string | undefined }> {
  return Object.values({ ...ProcessSettings, ...RUNNER_PROPERTIES })
    .filter((schema) => envName(schema) !== undefined)
    .map((schema) => ({
      env: envName(schema)!,
      default: (schema as { default?: unknown }).default,
      description: (schema as { description?: string }).description,
    }));
}
