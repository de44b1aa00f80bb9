import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { BundleStore } from '@alga-psa/bundle-store';
import { RUNNER_API_PREFIX, type BundleLimits } from '@alga-psa/protocol';
import { algaClientErrorHandler, algaErrors, algaFrameworkErrors, RequestLog } from '@alga-psa/protocol/fastify';
import type { Tracing } from '@alga-psa/protocol/tracing';
import type { ServiceTokenSigner, ServiceTokenVerifier } from '@alga-psa/service-auth';
import type { TrustPolicy } from '@alga-psa/service-auth/bundle-signature';
import type { Encrypter } from '@alga-psa/transit';
import { migrate, openPglite, type Db } from './db/index.ts';
import { registerAuth } from './auth/plugin.ts';
import { apiKeyRoutes } from './auth/key-routes.ts';
import { gatewayRoutes } from './gateway/index.ts';
import type { RateLimitOptions } from './gateway/rate-limit.ts';
import { ephemeralSigner, RunnerClient } from './gateway/runner-client.ts';
import { InstallService } from './installs/service.ts';
import { auditRoutes } from './routes/audit.ts';
import { bundleRoutes } from './routes/bundles.ts';
import { extensionRoutes } from './routes/extensions.ts';
import { healthRoutes } from './routes/health.ts';
import { installRoutes } from './routes/installs.ts';
import { lifecycleRoutes } from './routes/lifecycle.ts';
import { publishRoutes } from './routes/publish.ts';
import { referenceRoutes, type UploadRateLimit } from './routes/reference-api.ts';
import { secretRoutes } from './routes/secrets.ts';
import { installLogRoutes, runnerApi, runnerApiOptionsFrom } from './runner-api/index.ts';
import { registerInputGuard } from './input-guard.ts';
import { webUi, type WebUiOptions } from './web/index.ts';
import { countSecretsExpiring, ServerMetrics, timedDb } from './metrics.ts';
import { SigningService, signingRoutes } from './signing/index.ts';
import { registerOperatorAuth, type OperatorCredential } from './policy/operator.ts';
import { policyRoutes } from './policy/routes.ts';
import { PolicyService } from './policy/service.ts';
import { tenantRoutes } from './tenants/routes.ts';

export interface ServerOptions {
  /**
   * A client must send its whole request head within this time (default 10 s), or
   * Node answers 408 and closes: a slowloris client cannot hold sockets open.
   */
  headersTimeoutMs?: number;
  /** …and its whole request, body included, within this time (default 120 s, room for a 48 MiB publish). */
  requestTimeoutMs?: number;
  /** Defaults to an in-memory PGlite database that `close()` also closes. */
  db?: Db;
  encrypter: Encrypter;
  bundleStore: BundleStore;
  /** Runner base URL, or several separated by commas (round-robin, health-checked). Default http://127.0.0.1:8081. */
  runnerUrl?: string;
  /** Signs the per-request runner and server tokens. Default: a key pair made up at start (tests). */
  serviceSigner?: ServiceTokenSigner;
  /** How often runners are probed on /readyz. Default 2000 ms. */
  runnerHealthIntervalMs?: number;
  /** Pino level, or false for no logs. Default 'info'. */
  logger?: false | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Where log lines go. Default stderr (stdout carries only the "Server ready" line). */
  logStream?: { write(line: string): void };
  /** The runner's execution deadline per request (sent as limits.timeout_ms). Default 5000. */
  executionTimeoutMs?: number;
  /** How long the gateway waits for the runner. Default executionTimeoutMs + 5000; must be longer. */
  runnerTimeoutMs?: number;
  memoryMb?: number;
  /** Apply pending migrations before serving. Default true. */
  migrate?: boolean;
  /** TTL of the gateway's per-install cache. Default 5000 ms. */
  installCacheTtlMs?: number;
  /** Verifies `alga-server` service tokens on the runner-facing routes; without it they all answer 401. */
  serviceVerifier?: ServiceTokenVerifier;
  /** Per-install gateway rate limit; false turns it off. Default 50/s with a burst of 100. */
  gatewayRateLimit?: RateLimitOptions | false;
  /** Largest request body the gateway takes (`ALGA_GATEWAY_MAX_BODY_BYTES`). Default 1 MiB. */
  gatewayMaxBodyBytes?: number;
  /** The reference upload-proxy route's per-address limit (default 30 a minute, as the reference's); false: none. */
  uploadRateLimit?: UploadRateLimit | false;
  /** Overrides of the bundle archive limits (sizes, entries, ratio) for POST /api/v1/extensions/publish. */
  bundleLimits?: Partial<BundleLimits>;
  /** The web UI (session cookies, CSRF, static files); see src/web/. */
  web?: WebUiOptions;
  /** Which publisher keys are trusted and whether unsigned bundles are allowed (ALGA_TRUST_POLICY_FILE). Default: none trusted, unsigned allowed. */
  trustPolicy?: TrustPolicy;
  /** The platform operator's key (its hash): unlocks `/api/v1/operator/*` (provider policy). None: those routes answer 401. */
  operatorCredential?: OperatorCredential;
  /** OpenTelemetry tracing (`startTracing` from the OTEL_* variables); absent: off, and no span is made. */
  tracing?: Tracing | undefined;
}

/** One method and URL pattern the server answers, as registered (e.g. `GET /api/v1/installs/:extensionId`). */
export interface ServedRoute {
  method: string;
  url: string;
}

export interface AlgaServer {
  app: FastifyInstance;
  db: Db;
  /** Every route, HEAD twins included, in registration order: tests drive each one (input-guard.test.ts). */
  routes: readonly ServedRoute[];
  close(): Promise<void>;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Never log credentials, cookies or anything that looks like a secret value. */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'body.value',
  'body.secret',
  'value',
  'secret',
  '*.value',
  '*.secret',
];

export async function createServer(options: ServerOptions): Promise<AlgaServer> {
  const ownsDb = !options.db;
  const givenDb = options.db ?? (await openPglite());
  if (options.migrate ?? true) await migrate(givenDb);
  // Read at scrape time: `runner` is built below, before any scrape can arrive.
  const metrics: ServerMetrics = new ServerMetrics({
    runnersUp: (): number => runner.status().filter((node) => node.up).length,
    secretsExpiring: () => countSecretsExpiring(givenDb),
  });
  const db = timedDb(givenDb, metrics);

  const executionTimeoutMs = options.executionTimeoutMs ?? 5_000;
  const runnerTimeoutMs = options.runnerTimeoutMs ?? executionTimeoutMs + 5_000;
  if (runnerTimeoutMs <= executionTimeoutMs) {
    // Equal deadlines make a guest timeout surface as 502 or 504 at random.
    throw new Error(
      `runnerTimeoutMs (${runnerTimeoutMs}) must be longer than executionTimeoutMs (${executionTimeoutMs}).`,
    );
  }

  const app = Fastify({
    // A request Node's parser refuses still gets the registry's body.
    clientErrorHandler: algaClientErrorHandler,
    // Logs go to stderr: stdout carries only the "Server ready on …" line that scripts wait for.
    // Written asynchronously, in batches of 4 KiB or every 100 ms (pino flushes at exit), so no request
    // waits for the pipe and one write carries many lines (docs/perf/036-log-batches.md).
    logger:
      options.logger === false
        ? false
        : {
            level: options.logger ?? 'info',
            redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
            stream:
              options.logStream ?? pino.destination({ dest: 2, sync: false, minLength: 4096, periodicFlush: 100 }),
          },
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    // One access line per request; health probes and scrapes at debug, not info.
    logController: new RequestLog(),
    // A path the router cannot decode, or with a segment over maxParamLength, is a registry 400.
    // 1,024: a storage namespace is up to 128 characters, %-encoded up to nine bytes each.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: algaFrameworkErrors,
    // Node's defaults (60 s for headers, checked only every 30 s) let slow clients hold a socket for
    // a minute and a half; ours are tighter, and checked every second.
    serverFactory: (handler) =>
      createHttpServer(
        {
          headersTimeout: options.headersTimeoutMs ?? 10_000,
          requestTimeout: options.requestTimeoutMs ?? 120_000,
          connectionsCheckingInterval: 1_000,
        },
        handler,
      ),
    // Reject unknown fields instead of silently stripping them, and never coerce types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
  });
  const routes: ServedRoute[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Before any other hook: no NUL or broken Unicode from a URL or JSON body reaches authentication or SQL.
  registerInputGuard(app);
  await app.register(algaErrors);
  healthRoutes(app, db, metrics);

  const runner: RunnerClient = new RunnerClient({
    runnerUrl: options.runnerUrl ?? 'http://127.0.0.1:8081',
    timeoutMs: runnerTimeoutMs,
    signer: options.serviceSigner ?? ephemeralSigner(),
    logger: app.log,
    metrics,
    ...(options.tracing ? { tracing: options.tracing } : {}),
    ...(options.runnerHealthIntervalMs ? { healthIntervalMs: options.runnerHealthIntervalMs } : {}),
  });

  // Every install write goes through this service; its store empties the gateway's cache itself.
  const signing = new SigningService(db, options.trustPolicy);
  // A policy change empties the install cache here at once; other server processes see it within its TTL.
  const policy: PolicyService = new PolicyService(db, { onChange: () => installs.clearRuntimes() });
  const installs: InstallService = new InstallService({
    policy,
    db,
    encrypter: options.encrypter,
    onRuntimeLookup: (hit) => metrics.installCacheLookup(hit),
    ...(options.installCacheTtlMs === undefined ? {} : { runtimeTtlMs: options.installCacheTtlMs }),
    prepare: (install) =>
      runner.prepare({
        tenantId: install.tenantId,
        installId: install.id,
        contentHash: install.contentHash,
        signature: install.signature,
        ...(options.memoryMb ? { memoryMb: options.memoryMb } : {}),
      }),
  });

  await app.register(async (api) => {
    registerAuth(api, db);
    bundleRoutes(api, options.bundleStore);
    extensionRoutes(api, db, options.bundleStore, signing);
    installRoutes(api, { installs });
    secretRoutes(api, { installs });
    publishRoutes(api, {
      db,
      bundles: options.bundleStore,
      signing,
      ...(options.bundleLimits ? { limits: options.bundleLimits } : {}),
    });
    referenceRoutes(api, {
      db,
      bundles: options.bundleStore,
      // The reference upload path obeys the same trust policy (it sends no signature of ours: unsigned).
      signing,
      installs,
      ...(options.bundleLimits ? { limits: options.bundleLimits } : {}),
      ...(options.uploadRateLimit === undefined ? {} : { uploadRateLimit: options.uploadRateLimit }),
    });
    signingRoutes(api, { signing, onRevoke: () => installs.clearRuntimes() });
    lifecycleRoutes(api, { installs });
    installLogRoutes(api, { db, installs });
    auditRoutes(api, { db, installs });
    apiKeyRoutes(api, { db });
  });
  // Its own scope: the operator key, never a tenant's credential, authenticates here.
  await app.register(async (operator) => {
    registerOperatorAuth(operator, { db, credential: options.operatorCredential });
    policyRoutes(operator, { policy });
    tenantRoutes(operator, { db });
  });
  await app.register(runnerApi, {
    prefix: RUNNER_API_PREFIX,
    db,
    installs: installs.store,
    ...runnerApiOptionsFrom(options),
  });
  await app.register(async (ui) => webUi(ui, { db, installs, bundles: options.bundleStore, options: options.web }));
  await app.register(async (gateway) => {
    await gatewayRoutes(gateway, {
      db,
      installs,
      runner,
      metrics,
      signing,
      executionTimeoutMs,
      ...(options.tracing ? { tracing: options.tracing } : {}),
      ...(options.memoryMb ? { memoryMb: options.memoryMb } : {}),
      ...(options.gatewayRateLimit === undefined ? {} : { rateLimit: options.gatewayRateLimit }),
      ...(options.gatewayMaxBodyBytes === undefined ? {} : { maxBodyBytes: options.gatewayMaxBodyBytes }),
      ...(options.web?.allowedOrigins ? { allowedOrigins: options.web.allowedOrigins } : {}),
    });
  });

  return {
    app,
    db,
    routes,
    async close() {
      await app.close();
      await runner.close();
      installs.clearRuntimes();
      if (ownsDb) await givenDb.close();
    },
  };
}
