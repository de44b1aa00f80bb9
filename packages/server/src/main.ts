#!/usr/bin/env node
/**
 * Process entry: `node packages/server/src/main.ts`. Reads its settings from
 * the environment (see README), prints exactly one stdout line once listening
 * ("Server ready on http://host:port", which tests and scripts wait for), and
 * logs everything else as JSON on stderr-bound pino output.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { bundleStoreFromEnv } from '@alga-psa/bundle-store';
import { ensureServiceKeys, loadSigner } from '@alga-psa/service-auth';
import { loadTrustPolicy } from '@alga-psa/service-auth/bundle-signature';
import { startTracing } from '@alga-psa/protocol/tracing';
import { bootstrapTenant, writeBootstrapFile } from './auth/bootstrap.ts';
import { migrate, openDatabase } from './db/index.ts';
import { createServer } from './server.ts';
import { encrypterFromEnv } from './transit.ts';
import { verifierFromSigningKeyFile } from './service-keys.ts';
import { rateLimitFromEnv } from './gateway/rate-limit.ts';
import { gatewayMaxBodyFromEnv } from './gateway/index.ts';
import { uploadRateLimitFromEnv } from './routes/reference-api.ts';
import { webOptionsFromEnv } from './web/index.ts';
import { operatorCredentialFromEnv } from './policy/operator.ts';

const env = process.env;
const dataDir = path.resolve(env['ALGA_DATA_DIR'] ?? '.alga');
const host = env['HOST'] ?? '127.0.0.1';
const port = Number(env['PORT'] ?? 8080);
const logLevel = (env['LOG_LEVEL'] ?? 'info') as 'info';

async function main(): Promise<void> {
  // OFF unless OTEL_TRACES_EXPORTER / an OTLP endpoint asks for it; off loads nothing (docs/operations.md, Tracing).
  const tracing = await startTracing(env, { serviceName: 'alga-server' });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const databaseUrl = env['DATABASE_URL'] || undefined;
  const pgliteTemplate = env['ALGA_PGLITE_TEMPLATE'] || undefined;
  const db = await openDatabase({
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(pgliteTemplate ? { pgliteTemplate } : {}),
    dataDir,
  });
  await migrate(db);
  // ALGA_TRANSIT=local|vault picks the backend; the server only ever holds its encrypt side.
  const { encrypter } = await encrypterFromEnv(env, dataDir);
  // ALGA_BUNDLE_STORE=dir|s3; the directory defaults to <data dir>/bundles.
  const bundleStore = bundleStoreFromEnv(env, path.join(dataDir, 'bundles'));

  // Created 0600 on first start, next to service-verify.pem for the runners.
  const serviceSigningKeyFile =
    env['ALGA_SERVICE_SIGNING_KEY_FILE'] || (await ensureServiceKeys(dataDir)).privateKeyFile;

  const bootstrapFile = env['ALGA_BOOTSTRAP_FILE'];
  const bootstrap = bootstrapFile ? await bootstrapTenant(db, bootstrapFile) : undefined;

  // ALGA_OPERATOR_KEY or ALGA_OPERATOR_KEY_FILE: the platform operator's key (provider policy); only its hash is kept.
  const operatorCredential = await operatorCredentialFromEnv(env);
  delete env['ALGA_OPERATOR_KEY'];

  const gatewayRateLimit = rateLimitFromEnv(env);
  const gatewayMaxBodyBytes = gatewayMaxBodyFromEnv(env);
  const uploadRateLimit = uploadRateLimitFromEnv(env);
  const server = await createServer({
    db,
    ...(operatorCredential ? { operatorCredential } : {}),
    encrypter,
    bundleStore,
    runnerUrl: env['ALGA_RUNNER_URL'] ?? 'http://127.0.0.1:8081',
    logger: logLevel,
    migrate: false,
    web: webOptionsFromEnv(env),
    // Trusted publisher keys and whether unsigned bundles may be published (docs/security.md, "Bundle signing").
    ...(env['ALGA_TRUST_POLICY_FILE'] ? { trustPolicy: await loadTrustPolicy(env['ALGA_TRUST_POLICY_FILE']) } : {}),
    serviceSigner: await loadSigner(serviceSigningKeyFile),
    tracing,
    serviceVerifier: await verifierFromSigningKeyFile(serviceSigningKeyFile),
    ...(gatewayRateLimit === undefined ? {} : { gatewayRateLimit }),
    ...(gatewayMaxBodyBytes === undefined ? {} : { gatewayMaxBodyBytes }),
    ...(uploadRateLimit === undefined ? {} : { uploadRateLimit }),
    ...(env['ALGA_HEADERS_TIMEOUT_MS'] ? { headersTimeoutMs: Number(env['ALGA_HEADERS_TIMEOUT_MS']) } : {}),
    ...(env['ALGA_REQUEST_TIMEOUT_MS'] ? { requestTimeoutMs: Number(env['ALGA_REQUEST_TIMEOUT_MS']) } : {}),
    ...(env['ALGA_EXECUTION_TIMEOUT_MS'] ? { executionTimeoutMs: Number(env['ALGA_EXECUTION_TIMEOUT_MS']) } : {}),
  });
  if (bootstrapFile && !bootstrap) {
    server.app.log.info({ bootstrapFile }, 'tenants already exist; bootstrap file left unchanged');
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    server.app.log.info({ signal }, 'shutting down');
    server
      .close()
      .then(() => db.close())
      // Exports the spans still buffered.
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          server.app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  await server.app.listen({ host, port });
  const address = server.app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const serverUrl = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  if (bootstrap && bootstrapFile) await writeBootstrapFile(bootstrapFile, { ...bootstrap, serverUrl });
  process.stdout.write(`Server ready on ${serverUrl}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
