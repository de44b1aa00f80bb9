/**
 * The author's and the operator's path from npm, without this repository:
 * every published package is built and published (`npm run publish:packages`)
 * to a local registry (verdaccio on loopback, no uplinks), an empty folder
 * under the OS temp dir gets an npm config mapping the `@alga-psa` scope to it
 * (third-party dependencies still come from the npm registry or its cache),
 * and the README's two "Writing an extension" blocks run there verbatim: the
 * platform block in the background (a second terminal for a human), then the
 * author block — npm create → alga build → npm test (unit tests + alga test)
 * → alga login → publish → install --yes → secrets set → a gateway request
 * that uses the secret → alga logs --follow shows the guest's line. Then
 * alga dev serves the scaffolded project and picks up an edit.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/lib/platform.ts';
import { publishToLocalRegistry, startLocalRegistry, type LocalRegistry } from '../../scripts/lib/local-registry.ts';
import { runToExit } from '../../scripts/lib/processes.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The names, ports and secret value the README's blocks use. */
const NAME = 'hello';
const SERVER_PORT = 8080;
const RUNNER_PORT = 8081;
const README_TOKEN = 'my-token';
const VERSION = (
  JSON.parse(await readFile(path.join(repo, 'packages/cli/package.json'), 'utf8')) as { version: string }
).version;
const PUBLISHED = [
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
];

/**
 * The environment of a user's shell: this Node first on PATH (the bins' `#!/usr/bin/env node`),
 * none of the npm_* variables of an enclosing `npm test` nor the suite's ALGA_* settings, and no
 * test-runner context.
 */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // None of the suite's platform settings: the README's platform is a new user's, on embedded defaults
    // (DATABASE_URL from .ci/run once pointed it at the suite's busy PostgreSQL, where no bootstrap is made).
    // ALGA_* too: e.g. the suite's PGlite template was made by the repository's PGlite, not the installed one.
    const platformSetting = /^(npm_|ALGA_|RUNNER_|VAULT_|S3_|OTEL_)/i.test(key) || key === 'DATABASE_URL';
    if (!platformSetting && key !== 'NODE_TEST_CONTEXT' && key !== 'NODE_OPTIONS') env[key] = value;
  }
  env['PATH'] = `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`;
  return { ...env, ...extra };
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
    const onExit = () => reject(new Error(`exited before ${pattern}:\n${output.text.slice(-6000)}`));
    if (check()) return;
    if (child.exitCode !== null || child.signalCode !== null) return onExit();
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

/** The fenced block between `<!-- author-block:<name>:start -->` and `…:end -->`: the test breaks when the README changes without it. */
async function readmeBlock(name: string): Promise<string> {
  const readme = await readFile(path.join(repo, 'README.md'), 'utf8');
  const match = new RegExp(
    `<!-- author-block:${name}:start -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\s*<!-- author-block:${name}:end -->`,
  ).exec(readme);
  assert.ok(match, `README.md has no author-block:${name} markers around a sh block`);
  return match[1]!;
}

/**
 * The block as a bash script that echoes each command line (unexpanded, so no key is printed) and
 * stops at the first one that fails, naming it; the lines themselves run as written. Before the
 * first line matching `gate.before`, it waits for `gate.file`: where a human would wait for the
 * other terminal.
 */
function echoingScript(block: string, gate?: { before: RegExp; file: string }): string {
  const lines = block
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const gateAt = gate ? lines.findIndex((l) => gate.before.test(l)) : -1;
  assert.ok(!gate || gateAt >= 0, `no line matches ${gate?.before}`);
  return lines
    .map((line, i) =>
      [
        ...(i === gateAt ? [`until [ -f ${quote(gate!.file)} ]; do sleep 0.2; done`] : []),
        `printf '\\n[%ss] $ %s\\n' "$SECONDS" ${quote(line)}`,
        line,
        `st=$?; [ $st -eq 0 ] || { echo "exit $st: "${quote(line)}; exit $st; }`,
      ].join('\n'),
    )
    .join('\n');
}

/** A shell in its own process group, so stopping it stops everything it started (npx, node, the servers). */
function shell(script: string, cwd: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: { text: string } } {
  const child = spawn('bash', ['-c', script], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, output: capture(child) };
}

async function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit');
  try {
    process.kill(-child.pid, signal);
  } catch {
    return; // the group is gone
  }
  await exited;
  // The shell may exit before the processes it started; they share its group.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('published packages: from a registry to a served, installed extension, as the README says', () => {
  let work: string;
  let home: string;
  let npmrc: string;
  let registry: LocalRegistry;
  let platform: { child: ChildProcess; output: { text: string } } | undefined;
  /** The folder the README's author block leaves the shell in. */
  let project: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'alga-packages-e2e-'));
    home = path.join(work, 'config-home');
    project = path.join(work, 'user', NAME);
    registry = await startLocalRegistry({ dir: path.join(work, 'registry'), port: await freePort(), env: userEnv() });
    // What a user of a private registry puts in ~/.npmrc: the scope mapped to it; everything else from npm.
    npmrc = path.join(work, '.npmrc');
    await writeFile(npmrc, `@alga-psa:registry=${registry.url}\n`, { mode: 0o600 });
    const publish = await publishToLocalRegistry(registry, { env: userEnv() });
    assert.equal(publish.code, 0, publish.output);
  });

  after(async () => {
    if (platform) await stopGroup(platform.child);
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('every package is on the registry, Apache-2.0, with JavaScript, types, LICENSE and no TypeScript sources', async () => {
    for (const name of PUBLISHED) {
      const response = await fetch(`${registry.url}@alga-psa%2f${name}`);
      assert.equal(response.status, 200, `@alga-psa/${name} was not published`);
      const doc = (await response.json()) as {
        versions: Record<string, { license: string; engines: { node: string }; dist: { tarball: string } }>;
      };
      assert.deepEqual(Object.keys(doc.versions), [VERSION], name);
      assert.equal(doc.versions[VERSION]!.license, 'Apache-2.0', name);
      assert.match(doc.versions[VERSION]!.engines.node, /^>=22\.1[89]$/, name);
    }
    const cli = (await (await fetch(`${registry.url}@alga-psa%2fcli`)).json()) as {
      versions: Record<string, { dist: { tarball: string } }>;
    };
    const tarball = path.join(work, 'cli.tgz');
    await writeFile(tarball, Buffer.from(await (await fetch(cli.versions[VERSION]!.dist.tarball)).arrayBuffer()));
    const listing = await runToExit('tar', ['-tzf', tarball], { cwd: work, env: userEnv() });
    assert.match(listing.stdout, /^package\/src\/index\.js$/m);
    assert.match(listing.stdout, /^package\/src\/index\.d\.ts$/m);
    assert.match(listing.stdout, /^package\/LICENSE$/m);
    assert.match(listing.stdout, /^package\/wit\/alga-extension\.wit$/m);
    assert.doesNotMatch(listing.stdout, /^package\/src\/.*(?<!\.d)\.ts$/m, 'no TypeScript source to strip');
    // The initializer carries the template and nothing else: npm create fetches no toolchain.
    const create = (await (await fetch(`${registry.url}@alga-psa%2fcreate-extension`)).json()) as {
      versions: Record<string, { dependencies?: Record<string, string>; dist: { tarball: string } }>;
    };
    assert.deepEqual(create.versions[VERSION]!.dependencies ?? {}, {});
    await writeFile(tarball, Buffer.from(await (await fetch(create.versions[VERSION]!.dist.tarball)).arrayBuffer()));
    const templates = await runToExit('tar', ['-tzf', tarball], { cwd: work, env: userEnv() });
    assert.match(templates.stdout, /^package\/templates\/component-basic\/manifest\.json$/m);
  });

  test("the README's platform block, then its author block, run verbatim in an empty folder", async (t) => {
    const user = path.join(work, 'user');
    await mkdir(user);
    const env = userEnv({ XDG_CONFIG_HOME: home, NPM_CONFIG_USERCONFIG: npmrc });
    for (const port of [SERVER_PORT, RUNNER_PORT]) {
      assert.ok(await portFree(port), `port ${port} is taken: the README's blocks use it; stop what listens there`);
    }
    // npx reuses an initializer of the same version from its cache: drop the one an earlier run left.
    const cache = (await runToExit('npm', ['config', 'get', 'cache'], { cwd: user, env })).stdout.trim();
    const npxKey = createHash('sha512').update('@alga-psa/create-extension@latest').digest('hex').slice(0, 16);
    await rm(path.join(cache, '_npx', npxKey), { recursive: true, force: true });

    // Both terminals at once; the author block waits at its first line that needs the platform
    // (reading the platform's API key) until the platform is ready, as a human would wait for the
    // runner's ready line before opening the second terminal's platform-dependent steps.
    const gate = path.join(work, 'platform-ready');
    platform = shell(await readmeBlock('platform'), user, env);
    const { child: platformChild, output: platformOutput } = platform;
    // The last line (alga logs --follow) runs until Ctrl-C: stop it once the guest's line shows.
    const author = shell(
      echoingScript(await readmeBlock('author'), { before: /platform\/\.alga\/bootstrap\.json/, file: gate }),
      user,
      env,
    );
    t.after(() => stopGroup(author.child, 'SIGINT'));
    const authorStopped = once(author.child, 'exit').then(() => {
      throw new Error(`the author block stopped:\n${author.output.text.slice(-6000)}`);
    });
    authorStopped.catch(() => undefined);
    await Promise.race([
      (async () => {
        await outputMatch(platformChild, /Server ready on http:\/\/127\.0\.0\.1:8080/, platformOutput);
        await outputMatch(platformChild, /Runner ready on http:\/\/127\.0\.0\.1:8081/, platformOutput);
        // The server may have probed the runner before it listened: wait until it counts it up again.
        if (platformOutput.text.includes('runner marked down')) {
          await outputMatch(platformChild, /runner marked up/, platformOutput);
        }
      })(),
      authorStopped,
    ]);
    await writeFile(gate, '');
    await outputMatch(author.child, /^\S+Z INFO {2}hello called on \/hello$/m, author.output);
    await stopGroup(author.child, 'SIGINT');
    const text = author.output.text;

    assert.match(text, new RegExp(`Created ${NAME} in ${NAME}`));
    const pkg = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    assert.equal(pkg.dependencies['@alga-psa/extension-runtime'], `^${VERSION}`);
    assert.equal(pkg.devDependencies['@alga-psa/cli'], `^${VERSION}`);
    // Ours, from the local registry, not the reference SDK (0.3.0) on npm.
    const sdk = JSON.parse(
      await readFile(path.join(project, 'node_modules/@alga-psa/extension-runtime/package.json'), 'utf8'),
    ) as { version: string };
    assert.equal(sdk.version, VERSION);
    const lock = await readFile(path.join(project, 'package-lock.json'), 'utf8');
    assert.ok(lock.includes(`${registry.url}@alga-psa/extension-runtime/-/`), 'the SDK came from the local registry');

    assert.match(text, new RegExp(`Built ${NAME}@0\\.1\\.0 in `));
    assert.match(text, /ℹ pass 2/);
    assert.match(text, /1 passed, 0 failed \(dist\/component\.wasm in the runner\)/);
    assert.match(text, new RegExp(`Published ${NAME}@0\\.1\\.0 \\(sha256:[0-9a-f]{64}\\)`));
    assert.match(text, new RegExp(`Installed ${NAME}@0\\.1\\.0`));
    assert.match(text, new RegExp(`Set secret api_token for ${NAME} \\(version 1\\)`));
    assert.ok(text.includes(`{"message":"Hello from ${NAME}","tokenSet":true}`), text.slice(-4000));
    assert.ok(!platformOutput.text.includes(README_TOKEN), 'the secret reached a server or runner line');
  });

  test('alga dev serves the scaffolded project and the next request after an edit shows it', async (t) => {
    const dev = spawn(path.join(project, 'node_modules/.bin/alga'), ['dev', '--port', '0'], {
      cwd: project,
      env: userEnv({ XDG_CONFIG_HOME: home }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = capture(dev);
    t.after(() => dev.kill('SIGINT'));
    const [, url] = await outputMatch(dev, /Ready on (http:\/\/\S+)/, output);
    const first = await fetch(`${url}/hello`);
    assert.equal(first.status, 200, output.text);
    assert.equal(((await first.json()) as { message: string }).message, `Hello from ${NAME}`);

    const source = path.join(project, 'src/index.ts');
    await writeFile(source, (await readFile(source, 'utf8')).replace('${greeting} from', '${greeting} (edited) from'));
    await outputMatch(dev, new RegExp(`Reloaded ${NAME}@`), output);
    const second = await fetch(`${url}/hello`);
    assert.equal(second.status, 200, output.text);
    assert.equal(((await second.json()) as { message: string }).message, `Hello (edited) from ${NAME}`);
    dev.kill('SIGINT');
    await outputMatch(dev, /Stopped\./, output).catch(() => undefined);
  });
});
