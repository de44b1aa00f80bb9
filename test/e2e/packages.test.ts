/**
 * The author's and the operator's path from npm, without this repository:
 * every published package is built and packed (`npm pack`), the tarballs are
 * installed into empty folders under the OS temp dir (no workspace, no parent
 * node_modules; third-party dependencies come from the npm registry or its
 * cache), and then: `npm create @alga-psa/extension` → npm install → alga build
 * → the template's npm test (unit tests + alga test) → alga dev serves a
 * request → the platform from the installed alga-server and alga-runner bins
 * → alga login → publish → install --yes → secrets set → a gateway request
 * that uses the secret → alga logs shows the guest's line.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readBootstrap } from '../../scripts/lib/demo.ts';
import { freePort } from '../../scripts/lib/platform.ts';
import { runToExit, startService, type ServiceProcess } from '../../scripts/lib/processes.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NAME = 'npm-ext';
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const VERSION = (
  JSON.parse(await readFile(path.join(repo, 'packages/cli/package.json'), 'utf8')) as { version: string }
).version;

/**
 * The environment of a user's shell: this Node first on PATH (the bins' `#!/usr/bin/env node`),
 * none of the npm_* variables of an enclosing `npm test` nor the suite's ALGA_* settings, and no
 * test-runner context.
 */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // ALGA_* too: e.g. the suite's PGlite template was made by the repository's PGlite, not the installed one.
    if (!/^(npm_|ALGA_)/i.test(key) && key !== 'NODE_TEST_CONTEXT' && key !== 'NODE_OPTIONS') env[key] = value;
  }
  env['PATH'] = `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`;
  return { ...env, ...extra };
}

function run(command: string, args: string[], options: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }) {
  return runToExit(command, args, { ...options, env: userEnv(options.env) });
}

/** Resolves with the first match of `pattern` in the child's output; rejects if the child exits first. */
function outputMatch(child: ChildProcess, pattern: RegExp, output: { text: string }): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output.text);
      if (!match) return false;
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      resolve(match);
      return true;
    };
    const onData = () => void check();
    const onExit = () => reject(new Error(`exited before ${pattern}:\n${output.text.slice(-4000)}`));
    if (check()) return;
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function capture(child: ChildProcess): { text: string } {
  const output = { text: '' };
  child.stdout?.on('data', (d: Buffer) => (output.text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output.text += d.toString()));
  return output;
}

const npmInstall = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

describe('published packages: from npm tarballs to a served, installed extension', () => {
  let work: string;
  let tarballs: string[];
  /** The operator's install: the initializer, server and runner. */
  let tools: string;
  let project: string;
  let home: string;
  const alga = (args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) =>
    run(path.join(project, 'node_modules/.bin/alga'), args, {
      cwd: project,
      ...options,
      // A private config home: never the developer's own login (userEnv drops ALGA_SERVER_URL/ALGA_API_KEY).
      env: { XDG_CONFIG_HOME: home, ...options.env },
    });

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'alga-packages-e2e-'));
    home = path.join(work, 'config-home');
    tools = path.join(work, 'tools');
    project = path.join(work, NAME);
    const packed = path.join(work, 'tarballs');
    const build = await run(process.execPath, [path.join(repo, 'scripts/build-packages.ts'), '--pack', packed], {
      cwd: repo,
    });
    assert.equal(build.code, 0, build.stdout + build.stderr);
    tarballs = (await readdir(packed)).filter((f) => f.endsWith('.tgz')).map((f) => path.join(packed, f));
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('every published package packs, with JavaScript, types and no TypeScript sources', async () => {
    const names = tarballs.map((t) => path.basename(t)).sort();
    assert.deepEqual(
      names,
      [
        'bundle-store',
        'cli',
        'create-extension',
        'extension-runtime',
        'extension-ui',
        'protocol',
        'runner',
        'server',
        'service-auth',
        'transit',
        'wasm-rewrite',
      ].map((n) => `alga-psa-${n}-${VERSION}.tgz`),
    );
    const listing = await run('tar', ['-tzf', tarballs.find((t) => t.includes('-cli-'))!], { cwd: work });
    assert.match(listing.stdout, /^package\/src\/index\.js$/m);
    assert.match(listing.stdout, /^package\/src\/index\.d\.ts$/m);
    assert.match(listing.stdout, /^package\/templates\/component-basic\/manifest\.json$/m);
    assert.match(listing.stdout, /^package\/wit\/alga-extension\.wit$/m);
    assert.doesNotMatch(listing.stdout, /^package\/src\/.*(?<!\.d)\.ts$/m, 'no TypeScript source to strip');
  });

  test('npm create @alga-psa/extension scaffolds a project that depends on published versions', async () => {
    await mkdir(tools);
    await writeFile(path.join(tools, 'package.json'), '{ "name": "tools", "private": true }\n');
    const install = await run('npm', [...npmInstall, ...tarballs], { cwd: tools });
    assert.equal(install.code, 0, install.stderr);

    const created = await run(path.join(tools, 'node_modules/.bin/create-extension'), [NAME, '--no-install'], {
      cwd: work,
    });
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`Created ${NAME} in ${NAME}`));
    const pkg = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    assert.equal(pkg.dependencies['@alga-psa/extension-runtime'], `^${VERSION}`);
    assert.equal(pkg.devDependencies['@alga-psa/cli'], `^${VERSION}`);

    // What `npm install` would fetch from the registry once published: here, the same tarballs.
    const deps = await run('npm', [...npmInstall, ...tarballs], { cwd: project });
    assert.equal(deps.code, 0, deps.stderr);
  });

  test('alga build and the template npm test (unit tests, then alga test on the component) pass', async () => {
    const build = await alga(['build']);
    assert.equal(build.code, 0, build.stdout + build.stderr);
    assert.match(build.stdout, new RegExp(`Built ${NAME}@0\\.1\\.0 in `));
    const npmTest = await run('npm', ['test'], { cwd: project });
    assert.equal(npmTest.code, 0, npmTest.stdout + npmTest.stderr);
    assert.match(npmTest.stdout, /ℹ pass 2/);
    assert.match(npmTest.stdout, /1 passed, 0 failed \(dist\/component\.wasm in the runner\)/);
  });

  test('alga dev serves the endpoint from the installed CLI', async (t) => {
    const dev = spawn(path.join(project, 'node_modules/.bin/alga'), ['dev', '--port', '0'], {
      cwd: project,
      env: userEnv({ XDG_CONFIG_HOME: home }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = capture(dev);
    t.after(() => dev.kill('SIGINT'));
    const [, url] = await outputMatch(dev, /Ready on (http:\/\/\S+)/, output);
    const response = await fetch(`${url}/hello`);
    assert.equal(response.status, 200, output.text);
    assert.equal(((await response.json()) as { message: string }).message, `Hello from ${NAME}`);
    dev.kill('SIGINT');
    await outputMatch(dev, /Stopped\./, output).catch(() => undefined);
  });

  describe('against the platform started from the installed alga-server and alga-runner', () => {
    let server: ServiceProcess;
    let runner: ServiceProcess;
    let apiKey: string;

    before(async () => {
      const dataDir = path.join(work, 'platform');
      const bootstrapFile = path.join(dataDir, 'bootstrap.json');
      const runnerPort = await freePort();
      const env = userEnv();
      // The server creates the transit key and service keys on first start; the runner reads them.
      server = await startService({
        name: 'server',
        command: path.join(tools, 'node_modules/.bin/alga-server'),
        cwd: tools,
        env: {
          ...env,
          PORT: String(await freePort()),
          ALGA_DATA_DIR: dataDir,
          ALGA_BOOTSTRAP_FILE: bootstrapFile,
          ALGA_RUNNER_URL: `http://127.0.0.1:${runnerPort}`,
          DATABASE_URL: '',
        },
        ready: /Server ready on (http:\/\/\S+)/,
        timeoutMs: 120_000,
      });
      runner = await startService({
        name: 'runner',
        command: path.join(tools, 'node_modules/.bin/alga-runner'),
        cwd: tools,
        env: {
          ...env,
          RUNNER_PORT: String(runnerPort),
          ALGA_BUNDLE_DIR: path.join(dataDir, 'bundles'),
          ALGA_TRANSIT_KEY_FILE: path.join(dataDir, 'transit-keys.json'),
          ALGA_SERVICE_VERIFY_KEY_FILE: path.join(dataDir, 'service-verify.pem'),
          ALGA_SERVER_URL: server.url,
        },
        ready: /Runner ready on (http:\/\/\S+)/,
        timeoutMs: 120_000,
      });
      ({ apiKey } = await readBootstrap(bootstrapFile));
      // The server may have probed the runner before it listened: wait until it counts it up again.
      const output = {
        get text() {
          return server.output();
        },
      };
      if (server.output().includes('runner marked down')) await outputMatch(server.child, /runner marked up/, output);
    });

    after(async () => {
      await runner?.stop();
      await server?.stop();
    });

    test('alga login, publish, install --yes and secrets set', async () => {
      const login = await alga(['login', '--server', server.url], { env: { ALGA_API_KEY: apiKey } });
      assert.equal(login.code, 0, login.stderr);
      // From here on the saved login is what the commands use.
      const publish = await alga(['publish']);
      assert.equal(publish.code, 0, publish.stderr);
      assert.match(publish.stdout, new RegExp(`Published ${NAME}@0\\.1\\.0 \\(sha256:[0-9a-f]{64}\\)`));
      const install = await alga(['install', '--yes']);
      assert.equal(install.code, 0, install.stderr);
      assert.match(install.stdout, new RegExp(`Installed ${NAME}@0\\.1\\.0`));
      const secret = await alga(['secrets', 'set', 'api_token'], { input: `${TOKEN}\n` });
      assert.equal(secret.code, 0, secret.stderr);
      assert.match(secret.stdout, new RegExp(`Set secret api_token for ${NAME} \\(version 1\\)`));
    });

    test("a gateway request uses the secret, and alga logs shows the guest's line", async (t) => {
      const response = await fetch(`${server.url}/api/ext/${NAME}/hello`, {
        headers: { authorization: `Bearer ${apiKey}` },
      });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      assert.deepEqual(JSON.parse(text), { message: `Hello from ${NAME}`, tokenSet: true });

      // The runner ships guest lines a moment after the response: follow until it arrives.
      const logs = spawn(path.join(project, 'node_modules/.bin/alga'), ['logs', '--follow'], {
        cwd: project,
        env: userEnv({ XDG_CONFIG_HOME: home }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      t.after(() => logs.kill('SIGINT'));
      const output = capture(logs);
      await outputMatch(logs, /^\S+Z INFO {2}hello called on \/hello$/m, output);
      assert.ok(![output.text, server.output(), runner.output()].some((o) => o.includes(TOKEN)));
    });
  });
});
