/**
 * `npm run registry [-- --port 4873]`: builds this repository's packages and
 * serves them from a private npm registry on loopback until Ctrl-C, so the
 * README's "Writing an extension" works from npm (`npm create
 * @alga-psa/extension`, `npm install @alga-psa/server …`) before the packages
 * are on the public registry. Map only the `@alga-psa` scope to it; everything
 * else keeps coming from npm. Its storage (`.alga-registry/`) starts empty on
 * every run.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { publishToLocalRegistry, startLocalRegistry } from './lib/local-registry.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { port: { type: 'string', default: process.env.ALGA_REGISTRY_PORT ?? '4873' } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`--port must be a TCP port (1-65535), got "${values.port}"`);
  process.exit(2);
}

console.log(`Starting a private registry on 127.0.0.1:${port} …`);
const registry = await startLocalRegistry({ dir: path.join(root, '.alga-registry'), port }).catch((error: unknown) => {
  console.error(`The registry did not start: ${error instanceof Error ? error.message : String(error)}`);
  console.error(`Is port ${port} taken? Choose another with: npm run registry -- --port <port>`);
  process.exit(1);
});
const stop = async (code: number) => {
  await registry.stop();
  process.exit(code);
};
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

console.log('Building and publishing the packages (a minute or two) …');
const published = await publishToLocalRegistry(registry, { onOutput: (chunk) => process.stdout.write(chunk) });
if (published.code !== 0) {
  console.error(`Publishing failed (exit ${published.code}); the output is above.`);
  await stop(1);
}

console.log(`
Registry ready on ${registry.url} with every @alga-psa package of this checkout.
Map the scope to it (your user npm config; everything else still comes from npm):

  npm config set @alga-psa:registry ${registry.url}

then follow the README's "Writing an extension" in an empty folder. Undo with
  npm config delete @alga-psa:registry
Ctrl-C stops the registry.`);
