/**
 * A private npm registry on loopback (verdaccio, a devDependency) holding this
 * repository's packages: what `npm run registry` serves to authors until the
 * packages are on the public registry, and what test/e2e/packages.test.ts
 * installs from. It has no uplinks, so under `@alga-psa` only what was
 * published here exists (the public registry's `@alga-psa` packages are the
 * reference product's); a user maps just that scope to it and gets everything
 * else from npm as usual.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToExit, startService, type ServiceProcess } from './processes.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LocalRegistry {
  /** With a trailing slash, as npm config wants it: `http://127.0.0.1:4873/`. */
  url: string;
  /** Holds the registry's auth token: the user config to publish with (0600). */
  npmrc: string;
  process: ServiceProcess;
  stop(): Promise<void>;
}

export interface LocalRegistryOptions {
  /** Emptied first: a registry starts with nothing published. */
  dir: string;
  port: number;
  env?: NodeJS.ProcessEnv;
}

export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const { dir } = options;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
      `auth: { htpasswd: { file: ${JSON.stringify(path.join(dir, 'htpasswd'))}, max_users: 1 } }`,
      'uplinks: {}',
      "packages: { '**': { access: $all, publish: $authenticated } }",
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const registry = await startService({
    name: 'verdaccio',
    script: path.join(repo, 'node_modules/verdaccio/bin/verdaccio'),
    args: ['--config', config, '--listen', `127.0.0.1:${options.port}`],
    env: options.env,
    ready: /http address - (http:\/\/\S+?)\/? -/,
    timeoutMs: 60_000,
  });
  try {
    const url = `${registry.url}/`;
    // The one user that may publish (max_users: 1); reading needs no login.
    const response = await fetch(`${url}-/user/org.couchdb.user:alga`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alga', password: `pw-${Date.now()}-${Math.random()}` }),
    });
    const { token } = (await response.json()) as { token?: string };
    if (!token) throw new Error(`verdaccio created no user (HTTP ${response.status})`);
    const npmrc = path.join(dir, 'publish.npmrc');
    await writeFile(npmrc, `@alga-psa:registry=${url}\n//${new URL(url).host}/:_authToken=${token}\n`, {
      mode: 0o600,
    });
    return {
      url,
      npmrc,
      process: registry,
      stop: async () => {
        await registry.stop();
      },
    };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}

/**
 * Builds every published package (`scripts/build-packages.ts`) and publishes it
 * to `registry`. `onOutput` gets the build's output as it comes (it takes a minute or two).
 */
export async function publishToLocalRegistry(
  registry: LocalRegistry,
  options: { env?: NodeJS.ProcessEnv; onOutput?: (chunk: string) => void } = {},
): Promise<{ code: number | null; output: string }> {
  const result = await runToExit(
    process.execPath,
    [path.join(repo, 'scripts/build-packages.ts'), '--publish', '--registry', registry.url],
    {
      cwd: repo,
      env: { ...(options.env ?? process.env), NPM_CONFIG_USERCONFIG: registry.npmrc },
      onOutput: options.onOutput,
    },
  );
  return { code: result.code, output: result.stdout + result.stderr };
}
