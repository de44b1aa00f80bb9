/**
 * `npm run build:packages`: turns each published workspace package into a
 * publishable folder, `packages/<name>/dist/`, holding compiled JavaScript
 * with `.d.ts`, the package's assets and a package.json whose `exports` and
 * `bin` point at the JavaScript. Inside this repository nothing uses dist/:
 * the workspace packages keep exporting their `src/*.ts` (Node strips the
 * types), so `npm ci && npm test` needs no build. Publish with
 * `npm run publish:packages` (or `npm publish packages/<name>/dist`); pack
 * with `node scripts/build-packages.ts --pack <dir>`.
 *
 *   node scripts/build-packages.ts [--pack <dir>] [--publish [--dry-run] [--tag <tag>] [--registry <url>]] [--skip-web]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureWebBuild } from './lib/web-build.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = (pkg: string) => path.join(root, 'node_modules', pkg);
/** Where tsc -p tsconfig.build.json writes, one folder per package. */
const BUILD = path.join(root, '.packages-build');

/** Published packages, dependencies first. */
export const PUBLISHED = [
  'protocol',
  'service-auth',
  'transit',
  'bundle-store',
  'wasm-rewrite',
  'extension-runtime',
  'extension-ui',
  'runner',
  'server',
  'create-extension',
  'cli',
] as const;

/** What each package ships besides its compiled src/ (paths relative to the repo root → inside the package). */
const EXTRAS: Partial<Record<(typeof PUBLISHED)[number], Array<[from: string, to: string]>>> = {
  protocol: [
    ['packages/protocol/manifest.schema.json', 'manifest.schema.json'],
    ['packages/protocol/manifest.reference.schema.json', 'manifest.reference.schema.json'],
  ],
  'extension-runtime': [['packages/extension-runtime/generated', 'generated']],
  runner: [['packages/runner/generated', 'generated']],
  // The server serves the built web UI from <package>/web (server/src/web/static.ts).
  server: [['packages/web/dist', 'web']],
  // The CLI builds against the WIT it ships; `alga new` scaffolds with the initializer's templates.
  cli: [
    ['wit', 'wit'],
    ['packages/cli/bin', 'bin'],
  ],
  'create-extension': [
    ['templates', 'templates'],
    ['packages/create-extension/bin', 'bin'],
  ],
};

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports?: Record<string, string>;
  bin?: Record<string, string>;
  files?: string[];
  scripts?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const toJs = (file: string) => file.replace(/\.ts$/, '.js');

/** The published package.json: exports and bins point at the compiled JavaScript and its types. */
export function publishedManifest(source: Manifest, files: string[]): Record<string, unknown> {
  const { private: _private, scripts: _scripts, devDependencies: _dev, ...rest } = source;
  const exports = Object.fromEntries(
    Object.entries(source.exports ?? {}).map(([key, target]) => [
      key,
      target.endsWith('.ts') ? { types: target.replace(/\.ts$/, '.d.ts'), default: toJs(target) } : target,
    ]),
  );
  const bin = source.bin
    ? Object.fromEntries(Object.entries(source.bin).map(([name, target]) => [name, toJs(target)]))
    : undefined;
  return {
    ...rest,
    ...(source.exports ? { exports } : {}),
    ...(bin ? { bin } : {}),
    files,
  };
}

/** Copies every non-TypeScript file under src/ (SQL migrations, JSON) next to the compiled code. */
async function copyAssets(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) await copyAssets(source, target);
    else if (!entry.name.endsWith('.ts') && !entry.name.endsWith('.md')) {
      await mkdir(to, { recursive: true });
      await cp(source, target);
    }
  }
}

/** Declarations keep the sources' `./x.ts` specifiers (tsc rewrites them only in JavaScript); consumers resolve `./x.js`. */
async function rewriteDeclarations(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const text = await readFile(file, 'utf8');
    const rewritten = text.replace(/(from\s+|import\()(['"])(\.\.?\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2');
    if (rewritten !== text) await writeFile(file, rewritten);
  }
}

/** One tsc program for all packages: each package's sources are type-checked once, not once per dependent. */
function compileAll(): void {
  const tsc = spawnSync(
    process.execPath,
    [require('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  );
  if (tsc.status !== 0) throw new Error('tsc -p tsconfig.build.json failed');
}

async function buildPackage(name: (typeof PUBLISHED)[number]): Promise<string> {
  const dir = path.join(root, 'packages', name);
  const dist = path.join(dir, 'dist');
  await rm(dist, { recursive: true, force: true });
  await rename(path.join(BUILD, name), dist);
  await rewriteDeclarations(dist);
  await copyAssets(path.join(dir, 'src'), path.join(dist, 'src'));
  for (const [from, to] of EXTRAS[name] ?? []) {
    if (!existsSync(path.join(root, from))) throw new Error(`${from} is missing (needed by packages/${name})`);
    await cp(path.join(root, from), path.join(dist, to), {
      recursive: true,
      filter: (src) => !/(^|[/\\])(node_modules|dist|\.alga)([/\\]|$)/.test(path.relative(path.join(root, from), src)),
    });
  }
  await cp(path.join(dir, 'README.md'), path.join(dist, 'README.md'));
  // Every package ships the repository's Apache-2.0 text.
  await cp(path.join(root, 'LICENSE'), path.join(dist, 'LICENSE'));
  const source = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as Manifest;
  const files = readdirSync(dist).filter((f) => f !== 'package.json' && f !== 'README.md' && f !== 'LICENSE');
  await writeFile(path.join(dist, 'package.json'), `${JSON.stringify(publishedManifest(source, files), null, 2)}\n`);
  return dist;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pack: { type: 'string' },
      publish: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      tag: { type: 'string' },
      registry: { type: 'string' },
      'skip-web': { type: 'boolean' },
    },
  });
  if (!values['skip-web']) await ensureWebBuild((m) => console.log(m));
  await rm(BUILD, { recursive: true, force: true });
  compileAll();
  for (const name of PUBLISHED) {
    await buildPackage(name);
    console.log(`built packages/${name}/dist`);
  }
  if (values.pack) {
    const into = path.resolve(values.pack);
    await mkdir(into, { recursive: true });
    for (const name of PUBLISHED) {
      execFileSync('npm', ['pack', '--silent', '--pack-destination', into, path.join(root, 'packages', name, 'dist')], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    }
    console.log(`packed ${PUBLISHED.length} packages into ${into}`);
  }
  if (values.publish) {
    // Dependencies first, so a package never points at a version the registry does not have yet.
    for (const name of PUBLISHED) {
      const args = ['publish', '--access', 'public', ...(values.tag ? ['--tag', values.tag] : [])];
      // npm picks a scope's own registry over --registry, so set both (e.g. a test's local registry).
      if (values.registry) args.push('--registry', values.registry, `--@alga-psa:registry=${values.registry}`);
      if (values['dry-run']) args.push('--dry-run');
      execFileSync('npm', [...args, path.join(root, 'packages', name, 'dist')], { stdio: 'inherit' });
    }
  }
  await rm(BUILD, { recursive: true, force: true });
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(`build:packages failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
