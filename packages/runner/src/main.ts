#!/usr/bin/env node
/**
 * The runner process: reads its config from the environment, serves
 * `/v1/execute`, and shuts down cleanly on SIGINT/SIGTERM.
 */
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import { LocalKeyring } from '@alga-psa/transit';
import { loadVerifier, type ServiceTokenVerifier } from '@alga-psa/service-auth';
import { ConfigError, loadConfig, type RunnerConfig } from './config.ts';
import { createRunner } from './index.ts';

async function main(): Promise<void> {
  let config: RunnerConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  let keyring: LocalKeyring;
  try {
    keyring = await LocalKeyring.open(config.transitKeyFile);
  } catch (error) {
    process.stderr.write(`ALGA_TRANSIT_KEY_FILE: ${(error as Error).message}\n`);
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

  const runner = await createRunner({
    bundleStore: new DirectoryBundleStore(config.bundleDir),
    decrypter: keyring,
    verifier,
    workers: config.workers,
    queueLimit: config.queueLimit,
    defaultTimeoutMs: config.defaultTimeoutMs,
    maxTimeoutMs: config.maxTimeoutMs,
    secretCacheTtlMs: config.secretCacheTtlMs,
    defaultMemoryMb: config.defaultMemoryMb,
    maxMemoryMb: config.maxMemoryMb,
    workerHeapMb: config.workerHeapMb,
    uiProxyRoutes: config.uiProxyRoutes,
    serverUrl: config.serverUrl,
    logger: { level: config.logLevel },
  });

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    runner.app.log.info({ signal }, 'shutting down');
    runner.close().then(
      () => process.exit(0),
      (error: unknown) => {
        runner.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);

  await runner.app.listen({ host: config.host, port: config.port });
  const address = runner.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  // The one line scripts and e2e tests wait for.
  process.stdout.write(`Runner ready on http://${host}:${port}\n`);
}

await main();
