#!/usr/bin/env -S node --max-semi-space-size=16
/**
 * The runner process: reads its config from the environment, serves
 * `/v1/execute`, and shuts down cleanly on SIGINT/SIGTERM.
 */
import { bundleStoreFromEnv, type BundleStore } from '@alga-psa/bundle-store';
import { decryptOnly, transitFromEnv, type TransitBackend } from '@alga-psa/transit';
import { loadVerifier, type ServiceTokenVerifier } from '@alga-psa/service-auth';
import { loadTrustPolicy, type TrustPolicy } from '@alga-psa/service-auth/bundle-signature';
import { startTracing, TracingConfigError, type Tracing } from '@alga-psa/protocol/tracing';
import { createRunner, type Runner } from './index.ts';
import { TranspileCacheError } from './engine/index.ts';
import { readSettings, SettingsError, unknownVariables, type RunnerConfig } from './settings.ts';
import { RUNNER_NODE_FLAGS, youngGenerationCapped } from './node-flags.ts';

async function main(): Promise<void> {
  let config: RunnerConfig;
  try {
    config = readSettings(process.env);
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  // ALGA_TRANSIT=local|vault; a runner only ever decrypts, and never creates a local key file.
  let transit: TransitBackend;
  try {
    transit = await transitFromEnv(process.env);
  } catch (error) {
    const variable = config.transit === 'local' ? 'ALGA_TRANSIT_KEY_FILE' : 'ALGA_TRANSIT';
    process.stderr.write(`${variable}: ${(error as Error).message}\n`);
    process.exit(1);
  }

  // ALGA_BUNDLE_STORE=dir|s3; give runners read-only S3 credentials, they only GET.
  let bundleStore: BundleStore;
  try {
    bundleStore = bundleStoreFromEnv(process.env);
  } catch (error) {
    process.stderr.write(`ALGA_BUNDLE_STORE: ${(error as Error).message}\n`);
    process.exit(1);
  }

  let verifier: ServiceTokenVerifier;
  try {
    verifier = await loadVerifier(config.serviceVerifyKeyFile);
  } catch (error) {
    process.stderr.write(
      `ALGA_SERVICE_VERIFY_KEY_FILE: cannot read the service token public key (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
        `point it at the server's service-verify.pem.\n`,
    );
    process.exit(1);
  }

  // The runner's own trusted publisher keys: never taken from the server (trust.ts).
  let trustPolicy: TrustPolicy | undefined;
  if (config.trustPolicyFile) {
    try {
      trustPolicy = await loadTrustPolicy(config.trustPolicyFile);
    } catch (error) {
      process.stderr.write(`RUNNER_TRUST_POLICY_FILE: ${(error as Error).message}\n`);
      process.exit(1);
    }
  }

  // OFF unless OTEL_TRACES_EXPORTER / an OTLP endpoint asks for it; off loads nothing (docs/operations.md, Tracing).
  let tracing: Tracing | undefined;
  try {
    tracing = await startTracing(process.env, { serviceName: 'alga-runner' });
  } catch (error) {
    if (!(error instanceof TracingConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }

  const { host, port } = config;
  let runner: Runner;
  try {
    runner = await createRunner({
      ...config,
      bundleStore,
      decrypter: decryptOnly(transit.backend),
      verifier,
      trustPolicy,
      tracing,
    });
  } catch (error) {
    if (!(error instanceof TranspileCacheError)) throw error;
    process.stderr.write(`RUNNER_TRANSPILE_CACHE_DIR: ${error.message}\n`);
    process.exit(1);
  }

  for (const name of unknownVariables(process.env)) {
    runner.app.log.warn(`${name} is not a runner setting and is ignored (docs/operations.md lists them)`);
  }
  if (!youngGenerationCapped(process.execArgv, process.env.NODE_OPTIONS)) {
    runner.app.log.warn(
      `the main thread's young generation is not capped, so the runner's memory grows with load; ` +
        `start it as \`node ${RUNNER_NODE_FLAGS.join(' ')} packages/runner/src/main.ts\` (see the runner's README, Memory)`,
    );
  }

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    runner.app.log.info({ signal }, 'shutting down');
    runner
      .close()
      .then(() => transit.close())
      // Exports the spans still buffered.
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          runner.app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);

  await runner.app.listen({ host, port });
  const address = runner.app.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  // The one line scripts and e2e tests wait for.
  process.stdout.write(`Runner ready on http://${host.includes(':') ? `[${host}]` : host}:${bound}\n`);
}

await main();
