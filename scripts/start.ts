/**
 * `npm start`: the whole platform on one laptop with embedded defaults.
 * Starts a runner and the server (PGlite, local transit keyring and bundle
 * directory under .alga/), then builds, publishes and installs the
 * secrets-demo sample for a demo tenant and prints a curl that calls it.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient, checkToolchain } from '@alga-psa/cli';
import { ensureServiceKeys } from '@alga-psa/service-auth';
import { LocalKeyring } from '@alga-psa/transit';
import { deployExtension, ensureDemoSecret, readBootstrap } from './lib/demo.ts';
import { startService, tail, type ServiceProcess } from './lib/processes.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.resolve(process.env.ALGA_DATA_DIR ?? path.join(root, '.alga'));
const logDir = path.join(dataDir, 'logs');
const port = process.env.PORT ?? '8080';
const say = (message: string) => console.log(message);

async function main(): Promise<void> {
  const started = performance.now();
  checkToolchain();
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dataDir, 'transit-keys.json');
  const bundleDir = path.join(dataDir, 'bundles');
  await LocalKeyring.open(keyFile, { create: true });
  // The server signs service tokens with the private key; the runner only verifies.
  const serviceKeys = await ensureServiceKeys(dataDir);

  const services: ServiceProcess[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nStopping…');
    await Promise.all(services.map((s) => s.stop()));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  say(
    `Data in ${path.relative(process.cwd(), dataDir) || dataDir}/ · logs in ${path.relative(process.cwd(), logDir)}/`,
  );
  const runner = await startService({
    name: 'runner',
    script: path.join(root, 'packages/runner/src/main.ts'),
    env: {
      RUNNER_PORT: process.env.RUNNER_PORT ?? '0',
      ALGA_BUNDLE_DIR: bundleDir,
      ALGA_TRANSIT_KEY_FILE: keyFile,
      ALGA_SERVICE_VERIFY_KEY_FILE: serviceKeys.publicKeyFile,
    },
    ready: /Runner ready on (http:\/\/\S+)/,
    logFile: path.join(logDir, 'runner.log'),
  });
  services.push(runner);
  say(`  runner  ${runner.url}`);

  const bootstrapFile = path.join(dataDir, 'demo-credentials.json');
  const server = await startService({
    name: 'server',
    script: path.join(root, 'packages/server/src/main.ts'),
    env: {
      PORT: port,
      ALGA_DATA_DIR: dataDir,
      ALGA_RUNNER_URL: runner.url,
      ALGA_SERVICE_SIGNING_KEY_FILE: serviceKeys.privateKeyFile,
      ALGA_BOOTSTRAP_FILE: bootstrapFile,
    },
    ready: /Server ready on (http:\/\/\S+)/,
    logFile: path.join(logDir, 'server.log'),
    timeoutMs: 60_000,
  });
  services.push(server);
  say(`  server  ${server.url}`);

  for (const service of services) {
    service.child.on('exit', (code) => {
      if (stopping) return;
      console.error(`\n${service.name} exited unexpectedly (code ${code}). Last lines:\n${tail(service.output())}`);
      void stopAll(1);
    });
  }

  const { apiKey } = await readBootstrap(bootstrapFile);
  const client = new ApiClient({ serverUrl: server.url, apiKey });
  const { extensionId } = await deployExtension(client, path.join(root, 'samples/secrets-demo'), (m) => say(`  ${m}`));
  if (await ensureDemoSecret(client, extensionId, 'api_token')) say('  set a random demo value for secret api_token');

  say('');
  say(`Ready on ${server.url} (in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  say('');
  say('Call the demo extension:');
  say(`  curl -H 'Authorization: Bearer ${apiKey}' ${server.url}/api/ext/${extensionId}/hello`);
  say('');
  say('Press Ctrl-C to stop.');
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
