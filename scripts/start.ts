/**
 * `npm start`: the whole platform on one laptop with embedded defaults.
 * Starts a runner and the server (PGlite, local transit keyring, service keys
 * and bundle directory under .alga/), then builds, publishes and installs the
 * secrets-demo sample for a demo tenant and prints how to call it and where
 * to sign in to the web UI.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient, checkToolchain } from '@alga-psa/cli';
import { deployExtension, ensureDemoSecret } from './lib/demo.ts';
import { startPlatform, type Platform } from './lib/platform.ts';
import { tail } from './lib/processes.ts';
import { ensureWebBuild } from './lib/web-build.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.resolve(process.env.ALGA_DATA_DIR ?? path.join(root, '.alga'));
// The server and runner keep V8's compiled code for our .ts files: later starts are quicker.
process.env.NODE_COMPILE_CACHE ??= path.join(dataDir, 'compile-cache');
const say = (message: string) => console.log(message);

let platform: Platform | undefined;
let stopping = false;
/** Stops whatever started, then exits: on a signal, when a service dies, and when start-up fails half-way. */
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say('\nStopping…');
  await platform?.stop();
  process.exit(code);
};

async function main(): Promise<void> {
  const started = performance.now();
  checkToolchain();
  await ensureWebBuild((m) => say(`  ${m}`));
  say(
    `Data in ${path.relative(process.cwd(), dataDir) || dataDir}/ · logs in ${path.relative(process.cwd(), path.join(dataDir, 'logs'))}/`,
  );

  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  platform = await startPlatform({ dataDir, port: process.env.PORT ?? '8080', logToFiles: true });
  const { server, runners, credentials } = platform;
  for (const service of [...runners, server]) {
    say(`  ${service.name.padEnd(7)} ${service.url}`);
    service.child.on('exit', (code) => {
      if (stopping) return;
      console.error(`\n${service.name} exited unexpectedly (code ${code}). Last lines:\n${tail(service.output())}`);
      void stop(1);
    });
  }

  const client = new ApiClient({ serverUrl: server.url, apiKey: credentials.apiKey });
  const { extensionId } = await deployExtension(client, path.join(root, 'samples/secrets-demo'), (m) => say(`  ${m}`));
  if (await ensureDemoSecret(client, extensionId, 'api_token')) say('  set a random demo value for secret api_token');

  say('');
  say(`Ready on ${server.url} (in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  say('');
  say('Call the demo extension:');
  say(`  curl -H 'Authorization: Bearer ${credentials.apiKey}' ${server.url}/api/ext/${extensionId}/hello`);
  if (credentials.adminPassword) {
    say('');
    say(`Manage extensions in the browser: ${server.url}/signin`);
    say(`  admin@demo.local / ${credentials.adminPassword}`);
    if (credentials.viewerPassword) say(`  viewer@demo.local / ${credentials.viewerPassword} (read-only)`);
    if (credentials.clientPassword) say(`  client@demo.local / ${credentials.clientPassword} (client portal)`);
  }
  say('');
  say('Platform operator (tenants, users, provider policy), with the key kept in a 0600 file:');
  say(`  export ALGA_SERVER_URL=${server.url} ALGA_OPERATOR_KEY_FILE=${platform.operatorKeyFile}`);
  say('  npx alga tenants create acme --key-file acme.key');
  say('  npx alga users add ops@acme.example --tenant acme --role admin');
  say('  npx alga policy list');
  say('');
  say('Press Ctrl-C to stop.');
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  // The server and runners may be up already (the demo's deploy failed): they go too.
  void stop(1);
});
